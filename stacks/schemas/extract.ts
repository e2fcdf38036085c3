/**
 * Regenerates a provider schema subset (stacks/schemas/<provider>.json) from cdktf's generated bindings, which encode
 * each resource's attributes and blocks as the provider's `terraform providers schema -json` published them. Dev
 * tooling, not imported by any stack; run by hand when a pin in stacks/providers.ts moves:
 *
 *   npx node stacks/schemas/extract.ts ts <@cdktf/provider-aws/lib> <out.json> <source> <version> <origin> <type>...
 *   npx node stacks/schemas/extract.ts go <cdktf-provider-X-go checkout>/<pkg root> <out.json> <source> <version> <origin> <type>...
 *
 * `ts` reads each type's `<kebab-type>/index.d.ts` (the npm package); `go` reads `<pkgroot>/<lowercasetype>/*.go` of the
 * Go bindings (one struct per file). Arguments after the types patch the result where the bindings' provider version
 * differs from the pin (checked against the provider's own source): `-type.block.attr` drops an attribute,
 * `type.block.attr:string` retypes it. What the bindings do not say, and the subset therefore leaves out: list vs set
 * (every multi-item block is "list"), min_items beyond "required block = 1", and computed-only attributes inside
 * nested blocks (only top-level ones are listed).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Attribute { type: unknown; required?: true; optional?: true; computed?: true }
interface BlockType { nesting_mode: 'list'; min_items?: number; max_items?: number; block: Block }
interface Block { attributes: Record<string, Attribute>; block_types?: Record<string, BlockType> }

interface Field { name: string; required: boolean; block: boolean; single: boolean; typeText: string; prop: string }

/** A binding's flavour: how to find a struct's text and read its fields. */
interface Flavour {
  struct(name: string): string;
  fields(text: string): Field[];
  /** The nested struct a block field refers to. */
  nested(parent: string, f: Field): string;
  /** Top-level getters with no `...Input` twin (computed-only), as camelCase names. */
  computedOnly(resourceClass: string): string[];
  attrType(typeText: string): unknown;
}

const snake = (camel: string) => camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function tsFlavour(dts: string): Flavour {
  return {
    struct(name) {
      const m = new RegExp(`export interface ${name}(?: extends [\\w.]+)? \\{([\\s\\S]*?)\\n\\}`).exec(dts);
      if (!m) throw new Error(`no interface ${name}`);
      return m[1]!;
    },
    fields(text) {
      const re = /\/\*\*([\s\S]*?)\*\/\s*readonly (\w+)(\??): ([^;]+);/g;
      return [...text.matchAll(re)].flatMap(([, doc, prop, opt, typeText]) => {
        const anchor = /#(\w+) \w+#\w+\}/.exec(doc!);
        if (!anchor) return [];
        const block = new RegExp(`\\* ${anchor[1]} block`).test(doc!);
        return [{ name: anchor[1]!, required: opt !== '?', block, single: !typeText!.includes('[]'), typeText: typeText!, prop: prop! }];
      });
    },
    nested: (_parent, f) => f.typeText.replace(/\[\].*$/, '').replace(/ \|.*$/, '').trim(),
    computedOnly(resourceClass) {
      const m = new RegExp(`export declare class ${resourceClass} extends cdktf.TerraformResource \\{([\\s\\S]*?)\\n\\}`).exec(dts);
      if (!m) throw new Error(`no class ${resourceClass}`);
      const getters = new Set([...m[1]!.matchAll(/^\s+get (\w+)\(\)/gm)].map((g) => g[1]!));
      return [...getters].filter((g) => !g.endsWith('Input') && !getters.has(`${g}Input`));
    },
    attrType(t) {
      if (/^string\[\]/.test(t)) return ['list', 'string'];
      if (/^number\[\]/.test(t)) return ['list', 'number'];
      if (/^\{\s*\[key: string\]: string/.test(t)) return ['map', 'string'];
      if (t.startsWith('boolean')) return 'bool';
      if (t.startsWith('number')) return 'number';
      if (t.startsWith('string')) return 'string';
      return 'dynamic';
    },
  };
}

/** Base-class members every Go resource interface carries: not attributes. */
const GO_BASE = new Set(['CdktfStack', 'Connection', 'ConstructNodeMetadata', 'Count', 'DependsOn', 'ForEach', 'Fqn',
  'FriendlyUniqueId', 'Lifecycle', 'Node', 'Provider', 'Provisioners', 'RawOverrides', 'TerraformGeneratorMetadata',
  'TerraformMetaArguments', 'TerraformResourceType', 'HasResourceMove', 'SynthesizeAttributes', 'SynthesizeHclAttributes',
  'ToHclTerraform', 'ToMetadata', 'ToString', 'ToTerraform']);

function goFlavour(dir: string): Flavour {
  const read = (name: string) => {
    const file = join(dir, `${name}.go`);
    if (!existsSync(file)) throw new Error(`no ${file}`);
    return readFileSync(file, 'utf8');
  };
  return {
    struct: (name) => read(name),
    fields(text) {
      const re = /((?:\t\/\/.*\n)+)\t(\w+) (\S+(?: \S+)?) `field:"(required|optional)" json:"\w+"/g;
      return [...text.matchAll(re)].flatMap(([, doc, prop, typeText, req]) => {
        const anchor = /#(\w+) \w+#\w+\}/.exec(doc!);
        if (!anchor) return [];
        const block = new RegExp(`// ${anchor[1]} block\\.`).test(doc!);
        return [{ name: anchor[1]!, required: req === 'required', block, single: typeText!.startsWith('*') && !typeText!.startsWith('*['), typeText: typeText!, prop: prop! }];
      });
    },
    nested: (parent, f) => (f.single ? f.typeText.slice(1) : `${parent.replace(/Config$/, '')}${pascal(f.prop)}`),
    computedOnly(resourceClass) {
      const m = new RegExp(`type ${resourceClass} interface \\{([\\s\\S]*?)\\n\\}`).exec(read(resourceClass));
      if (!m) throw new Error(`no interface ${resourceClass}`);
      const getters = new Set([...m[1]!.matchAll(/^\t([A-Z]\w*)\(\) /gm)].map((g) => g[1]!));
      return [...getters]
        .filter((g) => !GO_BASE.has(g) && !g.endsWith('Input') && !getters.has(`${g}Input`))
        .map((g) => g.charAt(0).toLowerCase() + g.slice(1));
    },
    attrType(t) {
      if (t === '*string') return 'string';
      if (t === '*float64') return 'number';
      if (t === '*[]*string') return ['list', 'string'];
      if (t === '*[]*float64') return ['list', 'number'];
      if (t === '*map[string]*string') return ['map', 'string'];
      return 'dynamic'; // interface{}: a bool or a value that may also be a token
    },
  };
}

function block(flavour: Flavour, structName: string): Block {
  const out: Block = { attributes: {} };
  for (const f of flavour.fields(flavour.struct(structName))) {
    if (!f.block) {
      out.attributes[f.name] = { type: flavour.attrType(f.typeText), ...(f.required ? { required: true } : { optional: true }) };
      continue;
    }
    out.block_types ??= {};
    out.block_types[f.name] = {
      nesting_mode: 'list',
      ...(f.required ? { min_items: 1 } : {}),
      ...(f.single ? { max_items: 1 } : {}),
      block: block(flavour, flavour.nested(structName, f)),
    };
  }
  return out;
}

function resourceSchema(flavour: Flavour, resourceClass: string): { version: 0; block: Block } {
  const top = block(flavour, `${resourceClass}Config`);
  for (const name of flavour.computedOnly(resourceClass).map(snake)) {
    if (!top.attributes[name] && !top.block_types?.[name]) top.attributes[name] = { type: 'dynamic', computed: true };
  }
  return { version: 0, block: top };
}

const classOf = (type: string) => type.split('_').slice(1).map(pascal).join('');

/** Applies `-type.path` (drop) or `type.path:newtype` (retype); a path names blocks down to one attribute. */
function patch(schemas: Record<string, { block: Block }>, spec: string): void {
  const drop = spec.startsWith('-');
  const [path, newType] = (drop ? spec.slice(1) : spec).split(':');
  const [type, ...names] = path!.split('.');
  const attr = names.pop()!;
  let b = schemas[type!]?.block;
  for (const n of names) b = b?.block_types?.[n]?.block;
  if (!b?.attributes[attr]) throw new Error(`patch ${spec}: no such attribute`);
  if (drop) delete b.attributes[attr];
  else b.attributes[attr]!.type = newType;
}

function main([kind, root, outFile, source, version, origin, ...args]: string[]): void {
  const types = args.filter((a) => /^[a-z0-9_]+$/.test(a));
  const patches = args.filter((a) => !types.includes(a));
  if (!kind || !root || !outFile || !source || !version || !origin || types.length === 0) {
    throw new Error('usage: extract.ts ts|go <root> <out.json> <source> <version> <origin> <type>...');
  }
  const resource_schemas: Record<string, { block: Block }> = {};
  for (const type of types) {
    const cls = classOf(type);
    const flavour = kind === 'ts'
      ? tsFlavour(readFileSync(join(root, type.split('_').slice(1).join('-'), 'index.d.ts'), 'utf8'))
      : goFlavour(join(root, cls.toLowerCase()));
    // cdktf renames a class whose name collides with another type's ("...ConfigurationA"): try the suffix too.
    resource_schemas[type] = (() => {
      try { return resourceSchema(flavour, cls); } catch { return resourceSchema(flavour, `${cls}A`); }
    })();
  }
  for (const p of patches) patch(resource_schemas, p);
  const doc = {
    format_version: '1.0',
    skyloft_note: { source, version, origin, ...(patches.length ? { patches } : {}), limits: 'see stacks/schemas/extract.ts: list vs set, nested computed-only attributes' },
    provider_schemas: { [`registry.terraform.io/${source}`]: { resource_schemas } },
  };
  writeFileSync(outFile, `${JSON.stringify(doc, null, 1)}\n`);
}

main(process.argv.slice(2));
