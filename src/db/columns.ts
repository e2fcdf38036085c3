import { p } from '@mikro-orm/core';

/** Columns every table carries. Spread into an entity's properties. */
export const timestamps = {
  createdAt: p.datetime().columnType('timestamptz').onCreate(() => new Date()),
  updatedAt: p
    .datetime()
    .columnType('timestamptz')
    .onCreate(() => new Date())
    .onUpdate(() => new Date()),
};

/** Who (which user) created and last changed a row, where a person acts. */
export const authorship = {
  createdBy: p.uuid().nullable(),
  updatedBy: p.uuid().nullable(),
};
