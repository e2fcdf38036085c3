import { readFileSync } from 'node:fs';

/**
 * Checks a synthesized cdk.tf.json against provider schemas in the shape of `terraform providers schema -json`
 * (stacks/schemas/*.json: the subset of each pinned provider for the types Skyloft emits). Finds what terraform would
 * refuse at a user's first plan: an unknown resource type or attribute, an attribute given as a block or a block as
 * an attribute, too many or too few blocks, a missing required attribute, a computed-only attribute set. A string
 * holding a `${...}` expression is accepted wherever an attribute is (its value is only known at plan time).
 */

export interface Attribute { type?: unknown; required?: boolean; optional?: boolean; computed?: boolean }
export interface BlockType { nesting_mode: string; min_items?: number; max_items?: number; block: Block }
export interface Block { attributes?: Record<string, Attribute>; block_types?: Record<string, BlockType> }
interface Schema { block: Block }
export interface ProviderSchemas {
  provider_schemas: Record<string, { resource_schemas?: Record<string, Schema>; data_source_schemas?: Record<string, Schema> }>;
}

/** Terraform's built-in terraform_data (terraform 1.11's schema): the sandbox stacks' only resource. */
const BUILTIN: ProviderSchemas = {
  provider_schemas: {
    'terraform.io/builtin/terraform': {
      resource_schemas: {
        terraform_data: {
          block: {
            attributes: {
              id: { type: 'string', computed: true },
              input: { type: 'dynamic', optional: true },
              output: { type: 'dynamic', computed: true },
              triggers_replace: { type: 'dynamic', optional: true },
            },
          },
        },
      },
    },
  },
};

/** Terraform's meta-arguments, allowed on every resource and data block whatever the schema. */
const META = new Set(['provider', 'depends_on', 'count', 'for_each', 'lifecycle', 'provisioner', 'connection', '//']);

/** The schema files of stacks/schemas, plus terraform's built-in provider. */
export function loadSchemas(files: string[]): ProviderSchemas[] {
  return [BUILTIN, ...files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as ProviderSchemas)];
}

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isExpression = (v: Json) => typeof v === 'string' && v.includes('${');

/** Whether an attribute's schema type holds objects (so an object or list of objects is a fine value). */
function holdsObjects(type: unknown): boolean {
  if (type === 'dynamic' || type === undefined) return true;
  if (!Array.isArray(type)) return false;
  const [kind, inner] = type as [string, unknown];
  return kind === 'map' || kind === 'object' || holdsObjects(inner);
}

function checkAttribute(path: string, name: string, attr: Attribute, value: Json, out: string[]): void {
  if (attr.computed && !attr.optional && !attr.required) out.push(`${path}: "${name}" is computed only and cannot be set`);
  if (isExpression(value) || holdsObjects(attr.type)) return;
  const items = Array.isArray(value) ? value : [value];
  if (items.some(isObject)) out.push(`${path}: "${name}" is an attribute, given as a block`);
}

function checkBlockType(path: string, name: string, type: BlockType, value: Json, out: string[]): void {
  const items = Array.isArray(value) ? value : [value];
  if (!items.every(isObject)) {
    out.push(`${path}: "${name}" is a block, given as an attribute (${JSON.stringify(value)})`);
    return;
  }
  if (type.max_items !== undefined && items.length > type.max_items) {
    out.push(`${path}: "${name}" allows at most ${type.max_items} block(s), got ${items.length}`);
  }
  if (type.min_items !== undefined && items.length < type.min_items) {
    out.push(`${path}: "${name}" needs at least ${type.min_items} block(s), got ${items.length}`);
  }
  items.forEach((item, i) => checkBlock(`${path}.${name}[${i}]`, type.block, item as Record<string, Json>, out, false));
}

function checkBlock(path: string, block: Block, body: Record<string, Json>, out: string[], top: boolean): void {
  const attributes = block.attributes ?? {};
  const blockTypes = block.block_types ?? {};
  for (const [name, value] of Object.entries(body)) {
    if (top && META.has(name)) continue;
    if (value === null || value === undefined) continue; // cdktf drops unset values; null means "not set" to terraform
    const attr = attributes[name];
    const type = blockTypes[name];
    if (attr) checkAttribute(path, name, attr, value, out);
    else if (type) checkBlockType(path, name, type, value, out);
    else out.push(`${path}: unknown attribute or block "${name}"`);
  }
  for (const [name, attr] of Object.entries(attributes)) {
    if (attr.required && (body[name] === undefined || body[name] === null)) out.push(`${path}: required attribute "${name}" is missing`);
  }
  for (const [name, type] of Object.entries(blockTypes)) {
    if ((type.min_items ?? 0) > 0 && body[name] === undefined) out.push(`${path}: required block "${name}" is missing`);
  }
}

/** Every problem of a synthesized document (cdk.tf.json, parsed), as `resource.<type>.<name>...: what` lines. */
export function checkAgainstSchemas(doc: Record<string, Json>, schemas: ProviderSchemas[]): string[] {
  const find = (kind: 'resource_schemas' | 'data_source_schemas', type: string) =>
    schemas.flatMap((s) => Object.values(s.provider_schemas)).map((p) => p[kind]?.[type]).find(Boolean);
  const out: string[] = [];
  for (const [section, kind] of [['resource', 'resource_schemas'], ['data', 'data_source_schemas']] as const) {
    const byType = doc[section];
    if (byType === undefined) continue;
    for (const [type, byName] of Object.entries(byType as Record<string, Record<string, Record<string, Json>>>)) {
      const schema = find(kind, type);
      if (!schema) {
        out.push(`${section}.${type}: unknown ${section === 'resource' ? 'resource' : 'data source'} type`);
        continue;
      }
      for (const [name, body] of Object.entries(byName)) checkBlock(`${section}.${type}.${name}`, schema.block, body, out, true);
    }
  }
  return out;
}
