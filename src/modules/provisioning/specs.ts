import { MAX_LITERAL_NUMBER } from '../../clouds/terraform/index.ts';
import { providerOf } from '../../clouds/registry.ts';
import { ValidationError } from '../../shared/errors.ts';

/**
 * What each (provider, kind) accepts as `spec`: the kind's schema in its provider's descriptor
 * (src/clouds/<provider>/descriptor.ts), matching the stack configs in stacks/. Unknown fields are refused so a typo
 * never silently becomes a default. A kind the provider does not provision is refused the same way.
 */
export function validateSpec(provider: string, type: string, spec: unknown): Record<string, unknown> {
  const descriptor = providerOf(provider);
  const kind = Object.hasOwn(descriptor.kinds, type) ? descriptor.kinds[type] : undefined;
  if (!kind) throw new ValidationError(`${provider} provisions no ${type}`, [{ path: 'type', message: `not a kind ${provider} provisions` }]);
  const max = descriptor.maxSpecBytes;
  if (max !== undefined && Buffer.byteLength(JSON.stringify(spec ?? null)) > max) {
    throw new ValidationError(`A ${provider} spec may hold at most ${max / 1024} KB`, [{ path: 'spec', message: `over ${max / 1024} KB` }]);
  }
  const huge = hugeNumberPath(spec, 'spec');
  if (huge) throw new ValidationError(`Numbers in a spec must be within ±${MAX_LITERAL_NUMBER}`, [{ path: huge, message: 'too large' }]);
  const parsed = kind.spec.safeParse(spec);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => ({ path: ['spec', ...i.path.map(String)].join('.'), message: i.message }));
  throw new ValidationError(`Invalid ${provider} ${type} spec: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, problems);
}

/** The path of the first number the stacks would refuse (stacks/common.ts literalJson: cdktf's number tokens). */
function hugeNumberPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'number') return Math.abs(value) < MAX_LITERAL_NUMBER ? undefined : path;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [k, v] of Object.entries(value)) {
    const found = hugeNumberPath(v, `${path}.${k}`);
    if (found) return found;
  }
  return undefined;
}
