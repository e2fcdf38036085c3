import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { AppError } from './errors.ts';

/**
 * AES-256-GCM envelope for every secret Skyloft stores (credential secrets, Terraform state).
 *
 * Layout: [1 byte format=1][8 bytes key id][12 bytes IV][16 bytes tag][ciphertext].
 * The key id names which master key sealed the blob, so a ring holding the newest and the previous master key
 * can read both while `rotate-master-key` re-seals everything under the newest. The caller's `aad` (for example
 * `credential:<accountId>:<credentialId>`) is authenticated, so a blob copied onto another row does not open.
 */
const FORMAT = 1;
const HEADER = 1 + 8 + 12 + 16;

export class VaultError extends AppError {
  constructor(message: string) {
    super('vault_error', 500, message);
  }
}

interface RingKey {
  id: Buffer;
  key: Buffer;
}

function deriveKey(masterKeyBase64: string): RingKey {
  const master = Buffer.from(masterKeyBase64, 'base64');
  if (master.length !== 32) throw new VaultError('A master key must be base64 of exactly 32 bytes');
  const key = Buffer.from(hkdfSync('sha256', master, 'skyloft-vault', 'aes-256-gcm/1', 32));
  const id = createHash('sha256').update('skyloft-key-id/1').update(master).digest().subarray(0, 8);
  return { id, key };
}

export class KeyRing {
  private readonly current: RingKey;
  private readonly all: RingKey[];

  /** `masterKeys[0]` seals; every key in the list opens. */
  constructor(masterKeys: string[]) {
    if (masterKeys.length === 0) throw new VaultError('A key ring needs at least one master key');
    this.all = masterKeys.map(deriveKey);
    this.current = this.all[0]!;
  }

  /** Hex id of the key that seals new blobs. */
  get currentKeyId(): string {
    return this.current.id.toString('hex');
  }

  seal(plaintext: Buffer, aad: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([FORMAT]), this.current.id, iv, cipher.getAuthTag(), body]);
  }

  open(blob: Buffer, aad: string): Buffer {
    if (blob.length < HEADER || blob[0] !== FORMAT) throw new VaultError('Sealed data is malformed');
    const keyId = blob.subarray(1, 9);
    const ring = this.all.find((k) => k.id.equals(keyId));
    if (!ring) {
      throw new VaultError(
        `Sealed under master key ${keyId.toString('hex')}, which is not in SKYLOFT_MASTER_KEY or SKYLOFT_MASTER_KEY_PREVIOUS`,
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', ring.key, blob.subarray(9, 21));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(blob.subarray(21, HEADER));
    try {
      return Buffer.concat([decipher.update(blob.subarray(HEADER)), decipher.final()]);
    } catch {
      throw new VaultError('Sealed data failed authentication: it was altered or belongs to another row');
    }
  }

  static keyIdOf(blob: Buffer): string {
    return blob.subarray(1, 9).toString('hex');
  }
}
