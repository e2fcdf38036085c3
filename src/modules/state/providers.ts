import { allowedProviderAddresses, BUILTIN_PROVIDER } from '../../clouds/terraform/index.ts';
import { UnprocessableError } from '../../shared/errors.ts';

// `terraform init` installs every provider a *state* names, not only the configuration's, and `plan` then runs it:
// a stored state is code to the worker. So a state may name only the providers the resource's own stacks use.

const goFold = (key: string) => key.toUpperCase().toLowerCase();

/**
 * `obj[name]` as terraform reads it. Terraform decodes state with Go's encoding/json, which matches keys
 * case-insensitively (folding U+212A "K" and U+017F "ſ" to k and s too): `"Resources"` or `"reſources"` is read as
 * `resources` while JSON.parse keeps them apart. So the exact spelling must be the only one present.
 */
export function terraformField(obj: Record<string, unknown>, name: string): unknown {
  for (const key of Object.keys(obj)) {
    if (key !== name && goFold(key) === name) throw new UnprocessableError(`The state has a key "${key}" that terraform would read as "${name}"; write it as "${name}" only`);
  }
  return obj[name];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const MODULES = String.raw`(?:module\.[A-Za-z0-9_-]+\.)*`;
/** State v4's `provider["<address>"]` with an optional `.alias`, under an optional module path. */
const CURRENT = new RegExp(String.raw`^${MODULES}provider\["([A-Za-z0-9._:/-]+)"\](?:\.[A-Za-z0-9_-]+)?$`);
/** Terraform 0.12's `provider.aws[.alias]`, which terraform still reads (as a legacy provider). */
const LEGACY = new RegExp(String.raw`^${MODULES}provider\.([A-Za-z0-9_-]+)(?:\.[A-Za-z0-9_-]+)?$`);

/**
 * A state's provider reference as the fully qualified, lower-case address terraform would install, the way terraform
 * normalizes it (checked against `terraform providers`): `aws` and `hashicorp/aws` are on registry.terraform.io
 * (namespace hashicorp for a bare type); a legacy `provider.aws` is `registry.terraform.io/-/aws` (which terraform 1.x
 * refuses to install) except `provider.terraform`, the built-in one. Anything else (whitespace, escapes, ports)
 * is null: refused rather than guessed at.
 */
export function providerAddressOf(ref: string): string | null {
  const current = CURRENT.exec(ref);
  if (current) {
    const parts = current[1]!.toLowerCase().split('/');
    if (parts.some((p) => p === '')) return null;
    if (parts.length === 1) return `registry.terraform.io/hashicorp/${parts[0]}`;
    if (parts.length === 2) return `registry.terraform.io/${parts.join('/')}`;
    return parts.length === 3 ? parts.join('/') : null;
  }
  const legacy = LEGACY.exec(ref);
  if (!legacy) return null;
  const type = legacy[1]!.toLowerCase();
  return type === 'terraform' ? BUILTIN_PROVIDER : `registry.terraform.io/-/${type}`;
}

/**
 * Every provider reference a parsed state holds, each with the address terraform would install (null: unreadable).
 * Only format version 4 is accepted: terraform would upgrade an older one (whose providers sit elsewhere, e.g. v3's
 * `modules[].resources`) and refuses a newer one, so neither is worth reading.
 */
export function stateProviderRefs(state: unknown): { ref: unknown; address: string | null }[] {
  if (!isObject(state) || terraformField(state, 'version') !== 4) {
    throw new UnprocessableError('Only Terraform state format version 4 is accepted (terraform 0.12 and later write it)');
  }
  const resources = terraformField(state, 'resources') ?? [];
  if (!Array.isArray(resources) || !resources.every(isObject)) throw new UnprocessableError('The state\'s "resources" is not a list of objects');
  return resources.map((resource) => {
    const ref = terraformField(resource, 'provider');
    return { ref, address: typeof ref === 'string' ? providerAddressOf(ref) : null };
  });
}

/**
 * Refuses (422) a state naming any provider outside those a resource of this cloud uses, or one Skyloft cannot
 * read. `state` is the raw body or the parsed JSON; null (no state yet) passes. The worker also calls this on the
 * stored state before running terraform, for states stored before the backend checked.
 */
export function assertStateProviders(state: unknown, cloud: string): void {
  if (state === null || state === undefined) return;
  let parsed = state;
  if (Buffer.isBuffer(state)) {
    try {
      parsed = JSON.parse(state.toString('utf8'));
    } catch {
      throw new UnprocessableError('The state is not valid JSON');
    }
  }
  const allowed = allowedProviderAddresses(cloud);
  const refused = new Set<string>();
  for (const { ref, address } of stateProviderRefs(parsed)) {
    if (address === null) refused.add(`${JSON.stringify(ref ?? null)} (unreadable; expected provider["<host>/<namespace>/<type>"])`);
    else if (!allowed.has(address)) refused.add(address);
  }
  if (refused.size > 0) {
    throw new UnprocessableError(
      `The state names provider${refused.size > 1 ? 's' : ''} ${[...refused].join(', ')}, which a ${cloud} resource may not use ` +
        `(allowed: ${[...allowed].join(', ')}): terraform would install and run ${refused.size > 1 ? 'them' : 'it'}`,
      { providers: [...refused], allowed: [...allowed] },
    );
  }
}
