import { aws } from './aws/descriptor.ts';
import { azure } from './azure/descriptor.ts';
import type { ProviderDescriptor } from './descriptor.ts';
import { gcp } from './gcp/descriptor.ts';
import { sandbox } from './sandbox/descriptor.ts';

/**
 * The providers Skyloft knows. Adding one is a folder under src/clouds (its descriptor and adapter), its stacks under
 * stacks/<provider>, and one line here and one in stacks/index.ts (docs/architecture.md). The API's enums, the
 * credential and spec validation, terraform's environment and the drift SQL all read this registry.
 */
const registered = new Map<string, ProviderDescriptor>();

const ID = /^[a-z][a-z0-9]{1,30}$/;
const KEY = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/** Adds a provider; ids and drift keys are checked, as the drift SQL is generated from them. */
export function registerProvider(descriptor: ProviderDescriptor): void {
  if (!ID.test(descriptor.id)) throw new TypeError(`provider id '${descriptor.id}' must be lower-case letters and digits`);
  if (registered.has(descriptor.id)) throw new TypeError(`provider '${descriptor.id}' is already registered`);
  for (const [kind, k] of Object.entries(descriptor.kinds)) {
    if (!ID.test(kind)) throw new TypeError(`kind '${kind}' of ${descriptor.id} must be lower-case letters and digits`);
    const keys = [...(k.drift?.spec ?? []), ...(k.drift?.observed ?? [])];
    if (keys.some((key) => !KEY.test(key))) throw new TypeError(`drift keys of ${descriptor.id} ${kind} must be plain field names`);
  }
  registered.set(descriptor.id, descriptor);
}

registerProvider(aws);
registerProvider(azure);
registerProvider(gcp);
registerProvider(sandbox);

export function isProvider(id: unknown): id is string {
  return typeof id === 'string' && registered.has(id);
}

/** The provider's descriptor; an unknown id is a programming error (ids are validated at the API). */
export function providerOf(id: string): ProviderDescriptor {
  const descriptor = registered.get(id);
  if (!descriptor) throw new TypeError(`No provider '${id}' is registered`);
  return descriptor;
}

export function providers(): ProviderDescriptor[] {
  return [...registered.values()];
}

/** Every provider id, in registration order: the API's provider enum. */
export function providerIds(): [string, ...string[]] {
  return [...registered.keys()] as [string, ...string[]];
}

/** Every kind some provider provisions, in first-seen order: the API's resource type enum. */
export function kindIds(): [string, ...string[]] {
  return [...new Set(providers().flatMap((d) => Object.keys(d.kinds)))] as [string, ...string[]];
}
