import { ENVS, EPOCH, TEAMS, profile } from './catalog.ts';
import { KINDS, countFor, type Cloud, type Resolved } from './options.ts';
import { Draw, hash32, mix32, permute40, unpermute40 } from './random.ts';

/**
 * The emulated resources of all three clouds. A scope (cloud, kind, region) holds only a count, the indexes deleted
 * since start and the overrides of changed or created resources; everything else is regenerated from the seed when a
 * page asks for it, so memory does not grow with fleet size.
 */
export interface Scope {
  cloud: Cloud;
  kind: string;
  /** AWS region, Azure location, GCP zone, or 'global' for GCP networks. */
  region: string;
  /** Six hex digits naming the scope inside every id, so an id leads back to its scope. */
  code: string;
  /** `code` as a number, for hashing. */
  key: number;
  base: number;
  created: number;
  deleted: Set<number>;
  overrides: Map<number, Changes>;
  /** When each resource created through `create` was made (seeded ones draw a date from the seed). */
  bornAt: Map<number, Date>;
}

export interface Changes {
  state?: string;
  type?: string;
  sizeGb?: number;
  /** Replaces the tags (labels on GCP) entirely. */
  tags?: Record<string, string>;
}

export interface CreateSpec extends Changes {
  cloud: Cloud;
  kind: string;
  region: string;
}

/** One resource as the renderers see it: the normalized fields plus a seeded generator for cosmetic detail. */
export interface Item {
  scope: Scope;
  index: number;
  id: string;
  zone: string;
  state: string;
  type: string;
  sizeGb: number;
  tags: Record<string, string>;
  createdAt: Date;
  draw: Draw;
}

export class InvalidPageToken extends Error {}

export class Fleet {
  private readonly opts: Resolved;
  private readonly byKey = new Map<string, Scope>();
  private readonly byCode = new Map<string, Scope>();
  /** Scope lists by query; scopes are fixed at construction, so these never go stale. */
  private readonly lists = new Map<string, Scope[]>();

  constructor(opts: Resolved) {
    this.opts = opts;
    const regions = { aws: opts.aws.regions, azure: opts.azure.locations, gcp: opts.gcp.zones };
    for (const cloud of ['aws', 'azure', 'gcp'] as const) {
      for (const kind of KINDS[cloud]) {
        const count = opts[cloud].counts[kind as never];
        const scopeRegions = cloud === 'gcp' && kind === 'networks' ? ['global'] : regions[cloud];
        for (const region of scopeRegions) this.addScope(cloud, kind, region, countFor(count, region));
      }
    }
  }

  /** The scopes of one kind, in configured region order (the order pages walk them). */
  scopes(cloud: Cloud, kind: string, region?: string): Scope[] {
    const key = `${cloud}/${kind}/${region ?? '*'}`;
    let found = this.lists.get(key);
    if (!found) {
      found = [...this.byKey.values()].filter((s) => s.cloud === cloud && s.kind === kind && (region === undefined || s.region === region));
      this.lists.set(key, found);
    }
    return found;
  }

  /**
   * Up to `limit` live items from `token` on, walking the scopes in order; nextToken is set only when a live item
   * remains, so the last page never comes back empty.
   */
  page(scopes: Scope[], token: string | undefined, limit: number): { items: Item[]; nextToken?: string } {
    let [ordinal, index] = token === undefined ? [0, 0] : decodeToken(token, scopes.length);
    const items: Item[] = [];
    for (; ordinal < scopes.length; ordinal++, index = 0) {
      const scope = scopes[ordinal]!;
      const end = scope.base + scope.created;
      for (; index < end; index++) {
        if (scope.deleted.has(index)) continue;
        if (items.length === limit) return { items, nextToken: encodeToken(ordinal, index) };
        items.push(this.item(scope, index));
      }
    }
    return { items };
  }

  item(scope: Scope, index: number): Item {
    const p = profile(scope.cloud, scope.kind);
    const draw = new Draw(mix32(this.opts.seed, scope.key, index));
    const zone = p.zones(scope.region, draw);
    const state = draw.weighted(p.states);
    const type = draw.pick(p.types);
    const sizeGb = p.sizesGb ? draw.between(p.sizesGb[0], p.sizesGb[1]) : 0;
    const createdAt = scope.bornAt.get(index) ?? draw.dateBefore(EPOCH, 900);
    const team = draw.pick(TEAMS);
    const tags: Record<string, string> = { env: draw.weighted(ENVS), team, 'cost-center': `cc-${draw.between(100, 999)}` };
    // AWS consoles show the Name tag; Azure and GCP name the resource itself.
    if (scope.cloud === 'aws') tags.Name = `${team}-${p.prefix}-${index}`;
    if (p.managed && draw.next() < this.opts.managedShare) {
      tags['skyloft-resource-id'] = draw.uuid();
      tags['skyloft-account-id'] = draw.pick(this.opts.skyloftAccountIds);
    }
    const o = scope.overrides.get(index);
    return {
      scope,
      index,
      id: this.idOf(scope, index),
      zone,
      state: o?.state ?? state,
      type: o?.type ?? type,
      sizeGb: o?.sizeGb ?? sizeGb,
      tags: o?.tags ?? tags,
      createdAt,
      draw,
    };
  }

  /** AWS ids look like AWS's (`i-0` + 16 hex); Azure and GCP get resource names. */
  idOf(scope: Scope, index: number): string {
    const { prefix } = profile(scope.cloud, scope.kind);
    if (scope.cloud === 'aws' && scope.kind !== 'buckets') return `${prefix}-0${scope.code}${permute40(index, scope.key).toString(16).padStart(10, '0')}`;
    return `${prefix}-${scope.code}-${index}`;
  }

  /** A live resource by AWS id, bucket/Azure/GCP name, ARM id, GCE selfLink or GCE numeric id. */
  find(id: string): Item | undefined {
    const last = id.slice(id.lastIndexOf('/') + 1);
    let scope: Scope | undefined;
    let index: number;
    let m: RegExpExecArray | null;
    if ((m = /^[a-z]+-0([0-9a-f]{6})([0-9a-f]{10})$/.exec(last))) {
      scope = this.byCode.get(m[1]!);
      index = unpermute40(parseInt(m[2]!, 16), parseInt(m[1]!, 16));
    } else if ((m = /-([0-9a-f]{6})-(\d+)$/.exec(last))) {
      scope = this.byCode.get(m[1]!);
      index = Number(m[2]);
    } else if ((m = /^1(\d{8})(\d{10})$/.exec(last))) {
      scope = this.byCode.get(Number(m[1]).toString(16));
      index = Number(m[2]);
    } else return undefined;
    if (!scope || index >= scope.base + scope.created || scope.deleted.has(index)) return undefined;
    return this.item(scope, index);
  }

  create(spec: CreateSpec): Item {
    const scope = this.byKey.get(`${spec.cloud}/${spec.kind}/${spec.region}`);
    if (!scope) throw new Error(`No ${spec.cloud} ${spec.kind} in region '${spec.region}': it must be one of the configured regions`);
    const index = scope.base + scope.created++;
    const { state, type, sizeGb, tags } = spec;
    scope.overrides.set(index, strip({ state, type, sizeGb, tags }));
    scope.bornAt.set(index, new Date(Math.floor(Date.now() / 1000) * 1000));
    return this.item(scope, index);
  }

  delete(id: string): boolean {
    const item = this.find(id);
    if (!item) return false;
    item.scope.deleted.add(item.index);
    item.scope.overrides.delete(item.index);
    return true;
  }

  change(id: string, changes: Changes): boolean {
    const item = this.find(id);
    if (!item) return false;
    const { state, type, sizeGb, tags } = changes;
    item.scope.overrides.set(item.index, { ...item.scope.overrides.get(item.index), ...strip({ state, type, sizeGb, tags }) });
    return true;
  }

  /** Live resources of one kind (optionally one region). */
  count(cloud: Cloud, kind: string, region?: string): number {
    return this.scopes(cloud, kind, region).reduce((n, s) => n + s.base + s.created - s.deleted.size, 0);
  }

  /** The first `limit` live ids, for tests that need something to mutate. */
  ids(cloud: Cloud, kind: string, region?: string, limit = 10): string[] {
    return this.page(this.scopes(cloud, kind, region), undefined, limit).items.map((i) => i.id);
  }

  private addScope(cloud: Cloud, kind: string, region: string, base: number): void {
    let h = hash32(this.opts.seed, cloud, kind, region);
    let code = ((h & 0xfffff) | 0x100000).toString(16);
    while (this.byCode.has(code)) code = (((h = hash32(h)) & 0xfffff) | 0x100000).toString(16);
    const scope: Scope = { cloud, kind, region, code, key: parseInt(code, 16), base, created: 0, deleted: new Set(), overrides: new Map(), bornAt: new Map() };
    this.byKey.set(`${cloud}/${kind}/${region}`, scope);
    this.byCode.set(code, scope);
  }
}

function strip(c: Changes): Changes {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
}

function encodeToken(ordinal: number, index: number): string {
  return Buffer.from(`v1.${ordinal}.${index}`).toString('base64url');
}

function decodeToken(token: string, scopes: number): [number, number] {
  const m = /^v1\.(\d+)\.(\d+)$/.exec(Buffer.from(token, 'base64url').toString());
  if (!m || Number(m[1]) >= scopes) throw new InvalidPageToken(`Invalid page token '${token}'`);
  return [Number(m[1]), Number(m[2])];
}
