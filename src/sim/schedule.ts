/**
 * Replay tokens: one short string that reproduces an execution.
 *
 * A token holds a header (which scenario, variant and parameters, and the seed of the search
 * that found it) and the schedule. The schedule lists only the decisions that differ from the
 * default (keep running the current task if it can, else the lowest enabled task; 0 for a
 * choose), as (gap, value) pairs over the sequence of decision points with more than one option.
 * Undefined decisions past the end are defaults, so a prefix of a schedule is still a schedule:
 * shrinking can drop deviations and the token stays valid.
 *
 * Layout: "ls1." + base64url( version u8 = 1, varint header length, header JSON (UTF-8),
 * varint deviation count, then per deviation varint gap and varint value ).
 */
import { InputError } from './errors.ts';
import type { Decision } from './execution.ts';

export type ParamValue = number | string | boolean;

export interface TokenHeader {
  /** A built-in scenario name or a scenario file path as the user gave it. */
  readonly scenario: string;
  readonly variant: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly seed: number;
  /** The step limit the execution ran under (a step-limited run replays only under the same). */
  readonly stepsMax: number;
}

export interface Deviation {
  /** Index among the decision points with more than one option. */
  readonly index: number;
  readonly value: number;
}

export interface Token {
  readonly header: TokenHeader;
  readonly schedule: readonly Deviation[];
}

const PREFIX = 'ls1.';
const VERSION = 1;

export function deviationsOf(decisions: readonly Decision[]): Deviation[] {
  const out: Deviation[] = [];
  decisions.forEach((d, index) => {
    if (d.value !== d.dflt) out.push({ index, value: d.value });
  });
  return out;
}

function pushVarint(out: number[], n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint out of range: ${n}`);
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

class Reader {
  private at = 0;
  private readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  get done(): boolean {
    return this.at >= this.bytes.length;
  }
  u8(): number {
    const b = this.bytes[this.at++];
    if (b === undefined) throw new InputError('replay token is truncated');
    return b;
  }
  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      n += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return n;
      scale *= 0x80;
    }
    throw new InputError('replay token has an overlong number');
  }
  take(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) throw new InputError('replay token is truncated');
    const s = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return s;
  }
}

function canonicalHeader(h: TokenHeader): string {
  // fromEntries defines own properties, so even a parameter named __proto__ survives.
  const params = Object.fromEntries(
    Object.keys(h.params)
      .sort()
      .map((k) => [k, h.params[k]]),
  );
  return JSON.stringify({ s: h.scenario, v: h.variant, p: params, r: h.seed, l: h.stepsMax });
}

export function encodeToken(token: Token): string {
  const out: number[] = [VERSION];
  const header = Buffer.from(canonicalHeader(token.header), 'utf8');
  pushVarint(out, header.length);
  for (const b of header) out.push(b);
  pushVarint(out, token.schedule.length);
  let prev = -1;
  for (const d of token.schedule) {
    if (d.index <= prev) throw new RangeError('deviations must be in increasing index order');
    pushVarint(out, d.index - prev - 1);
    pushVarint(out, d.value);
    prev = d.index;
  }
  return PREFIX + Buffer.from(out).toString('base64url');
}

function isParamValue(v: unknown): v is ParamValue {
  return typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean';
}

export function decodeToken(text: string): Token {
  const trimmed = text.trim();
  if (!trimmed.startsWith(PREFIX)) throw new InputError(`not a luosim replay token: "${trimmed}"`);
  const body = trimmed.slice(PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new InputError('replay token has invalid characters');
  const r = new Reader(Buffer.from(body, 'base64url'));
  const version = r.u8();
  if (version !== VERSION)
    throw new InputError(`not a valid replay token (unknown format version ${version})`);
  const headerBytes = r.take(r.varint());
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(headerBytes).toString('utf8'));
  } catch {
    throw new InputError('replay token header is corrupt');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new InputError('replay token header is corrupt');
  const h = raw as { s?: unknown; v?: unknown; p?: unknown; r?: unknown; l?: unknown };
  if (
    typeof h.s !== 'string' ||
    typeof h.v !== 'string' ||
    typeof h.r !== 'number' ||
    typeof h.l !== 'number' ||
    !Number.isSafeInteger(h.l) ||
    h.l < 1 ||
    typeof h.p !== 'object' ||
    h.p === null ||
    !Object.values(h.p).every(isParamValue)
  )
    throw new InputError('replay token header is corrupt');
  const count = r.varint();
  const schedule: Deviation[] = [];
  let prev = -1;
  for (let i = 0; i < count; i++) {
    const index = prev + 1 + r.varint();
    schedule.push({ index, value: r.varint() });
    prev = index;
  }
  if (!r.done) throw new InputError('replay token has trailing bytes');
  const params = h.p as Record<string, ParamValue>;
  return { header: { scenario: h.s, variant: h.v, params, seed: h.r, stepsMax: h.l }, schedule };
}
