import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A self-signed certificate for 127.0.0.1, made at start with the machine's openssl: the Azure SDK refuses bearer
 * tokens over plain http, so the Azure origin must speak TLS. The certificate is its own CA; clients trust it with
 * `tlsOptions: { ca }` (or NODE_EXTRA_CA_CERTS pointing at certPath before their process starts).
 */
export interface Certificate {
  key: string;
  cert: string;
  certPath: string;
}

export async function selfSignedCertificate(dir: string, host: string): Promise<Certificate> {
  const keyPath = join(dir, 'azure-key.pem');
  const certPath = join(dir, 'ca.pem');
  const san = /^[\d.]+$/.test(host) ? `IP:${host}` : `DNS:${host}`;
  try {
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '7', '-subj', `/CN=${host}`,
      '-addext', `subjectAltName=${san}`, '-addext', 'basicConstraints=critical,CA:TRUE',
    ]);
  } catch (err) {
    throw new Error(`The emulator needs openssl on PATH to make its TLS certificate for Azure: ${(err as Error).message}`, { cause: err });
  }
  return { key: await readFile(keyPath, 'utf8'), cert: await readFile(certPath, 'utf8'), certPath };
}
