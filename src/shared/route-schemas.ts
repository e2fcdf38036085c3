import { z } from 'zod';
import { DEFAULT_LIMIT, MAX_LIMIT } from './pagination.ts';

/** Shared pieces of route schemas. */
export const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().describe('More about the error (such as the fields at fault); null when there is nothing to add') }),
  requestId: z.string(),
});

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT),
  cursor: z.string().min(1).max(200).optional(),
};

export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

/** Ids are opaque: a string that is no id of ours is simply not found (404), not malformed. */
export const idParam = z.strictObject({ id: z.string().min(1).max(100) });

export const isoTime = z.string();
export const nullableTime = z.string().nullable();

/** Standard error answers every authenticated route can give. */
export const errorResponses = {
  400: errorBody,
  401: errorBody,
  403: errorBody,
  404: errorBody,
  409: errorBody,
  429: errorBody,
};
