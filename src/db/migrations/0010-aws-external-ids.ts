import { Migration } from '@mikro-orm/migrations';

/**
 * The ExternalId Skyloft sends when it assumes an account's AWS roles with the worker host's own identity
 * (SKYLOFT_AWS_HOST_IDENTITY): one random value per account, made by the database for existing and new accounts
 * alike, stored rather than derived from the master key so that rotating the key never breaks the roles' trust
 * policies. It is no secret (AWS's confused-deputy defence needs it to be unique per account and never chosen by
 * the caller, not hidden); GET /v1/credentials/aws-external-id shows it.
 */
export class Migration0010AwsExternalIds extends Migration {
  override up(): void {
    this.addSql(`
alter table accounts add column aws_external_id text not null unique
  default ('skyloft-' || replace(gen_random_uuid()::text, '-', ''));
`);
  }
}
