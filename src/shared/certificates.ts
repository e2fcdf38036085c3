/**
 * TLS certificate failures, named as what they are and with the fix. Without this a certificate the worker does not
 * trust read as whatever the SDK made of it: MSAL turns it into "endpoints_resolution_error" (with no cause attached),
 * the others into "Could not reach the credential's endpoint" (issue 19, item 10). The code is Node's (OpenSSL's
 * X509 verification result, or ERR_TLS_CERT_ALTNAME_INVALID for a name the certificate does not cover).
 */
export interface CertificateFailure {
  /** host:port the certificate was presented for, when the connection that saw it is known. */
  host?: string;
  code: string;
}

/** The CA is unknown to this process: a private CA, a self-signed certificate, a TLS-intercepting proxy. */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const OUT_OF_DATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const WRONG_NAME = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);
/** The rest of OpenSSL's certificate verdicts: a broken or revoked chain. */
const INVALID = /^(CERT_\w+|PATH_LENGTH_EXCEEDED|INVALID_PURPOSE|UNABLE_TO_DECRYPT_CERT_SIGNATURE|UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY|ERROR_IN_CERT_\w+)$/;

export function isCertificateCode(code: unknown): code is string {
  return typeof code === 'string' && (UNTRUSTED.has(code) || OUT_OF_DATE.has(code) || WRONG_NAME.has(code) || INVALID.test(code));
}

/** "What happened (code): how to fix it", naming the host when known. Holds nothing but the host and Node's code. */
export function describeCertificateFailure({ host, code }: CertificateFailure): string {
  const of = host ? `of ${host}` : 'of the cloud endpoint';
  if (UNTRUSTED.has(code)) {
    return `The TLS certificate ${of} is not trusted (${code}): set NODE_EXTRA_CA_CERTS to the PEM file of the CA that issued it `
      + '(for a self-signed certificate, the certificate itself) in the environment of Skyloft\'s workers and restart them, '
      + 'or give the endpoint a certificate from a publicly trusted CA';
  }
  if (OUT_OF_DATE.has(code)) {
    return `The TLS certificate ${of} is outside its validity period (${code}): renew the endpoint's certificate, or correct the worker host's clock`;
  }
  if (WRONG_NAME.has(code)) {
    return `The TLS certificate ${of} does not name that host (${code}): point the credential's endpoints at the name the certificate was issued for, `
      + 'or reissue the certificate with this host in its subjectAltName';
  }
  return `The TLS certificate ${of} was refused (${code}): the endpoint must present a valid, unrevoked certificate chain`;
}
