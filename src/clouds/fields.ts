import { z } from 'zod';

/**
 * Field schemas the descriptors share. Secret fields are checked for presence and type (non-empty strings), never for
 * a provider's own format: the cloud is the judge of whether a key is valid, and the health check asks it.
 */
export const secretString = z.string({ error: 'required, a non-empty string' }).min(1, 'required, a non-empty string');
export const name = z.string().min(1).max(200);
export const cidr = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'must be an IPv4 CIDR such as 10.0.0.0/16');
/** A vm may name a managed network by `networkResourceId`. */
export const networkRef = { networkResourceId: z.uuid().optional() };
