/**
 * Typed access to packed little-endian C structs, for byte-exact uAPI and KHO ABI layouts.
 *
 * **Models:** no single kernel file; it stands in for the `__packed` structs of
 * include/uapi/linux/liveupdate.h, include/linux/kho/abi/*.h and friends, v7.2-era mainline, on a
 * little-endian 64-bit machine (x86-64, arm64). Offsets and sizes are copied from the headers;
 * this helper only checks that they are consistent.
 *
 * **Abstracted:** no alignment or padding is computed (every offset is given, as in a packed
 * struct), no big-endian targets, no bitfields. Byte arrays such as `char name[64]` are not
 * field types: leave them as gaps and access them at their offset. `write` touches only the
 * declared fields; gaps keep their bytes, and `encode` leaves them zero.
 *
 * Errors: a layout whose fields do not fit or overlap, an `at` that puts the struct outside the
 * buffer, and a value outside its field's range are RangeErrors; a value of the wrong JS type
 * (a number for a u64) is a TypeError.
 */

export type FieldType = 'u8' | 'u16' | 'u32' | 'u64' | 's32' | 's64';
export type FieldValue<T extends FieldType> = T extends 'u64' | 's64' ? bigint : number;
export type StructFields = Readonly<Record<string, readonly [offset: number, type: FieldType]>>;
export type StructValue<F extends StructFields> = { [K in keyof F]: FieldValue<F[K][1]> };

export interface StructDef<F extends StructFields> {
  readonly name: string;
  readonly size: number;
  readonly fields: F;
  /** Decodes the struct that starts at bytes[at] (default 0). */
  read(bytes: Uint8Array, at?: number): StructValue<F>;
  /** Encodes `value` into bytes[at..at+size); bytes outside the fields are left alone. */
  write(bytes: Uint8Array, value: StructValue<F>, at?: number): void;
  /** A new zeroed buffer of `size` bytes holding `value`. */
  encode(value: StructValue<F>): Uint8Array;
}

const WIDTH: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, u64: 8, s32: 4, s64: 8 };
const NUMBER_RANGE = {
  u8: [0, 0xff],
  u16: [0, 0xffff],
  u32: [0, 0xffff_ffff],
  s32: [-0x8000_0000, 0x7fff_ffff],
} as const;
const BIGINT_RANGE = {
  u64: [0n, 0xffff_ffff_ffff_ffffn],
  s64: [-0x8000_0000_0000_0000n, 0x7fff_ffff_ffff_ffffn],
} as const;

const isIndex = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/** Declares a packed struct `name` of `size` bytes; checks that every field fits and that no two
 * fields share a byte. */
export function defineStruct<const F extends StructFields>(
  name: string,
  size: number,
  fields: F,
): StructDef<F> {
  if (!isIndex(size) || size === 0) throw new RangeError(`struct ${name}: bad size ${size}`);
  const entries = Object.entries(fields).map(([field, [offset, type]]) => {
    const width = WIDTH[type] as number | undefined;
    if (width === undefined) throw new RangeError(`struct ${name}: ${field} has unknown type`);
    if (!isIndex(offset) || offset + width > size) {
      throw new RangeError(`struct ${name}: ${field} (${type} at ${offset}) does not fit ${size}`);
    }
    return { field, offset, type, width };
  });
  const byStart = [...entries].sort((a, b) => a.offset - b.offset);
  byStart.forEach((f, i) => {
    const next = byStart[i + 1];
    if (next && f.offset + f.width > next.offset) {
      throw new RangeError(`struct ${name}: ${f.field} overlaps ${next.field}`);
    }
  });

  const view = (bytes: Uint8Array, at: number): DataView => {
    if (!isIndex(at) || at + size > bytes.length) {
      throw new RangeError(
        `struct ${name}: ${size} bytes at ${at} exceed a ${bytes.length}-byte buffer`,
      );
    }
    return new DataView(bytes.buffer, bytes.byteOffset + at, size);
  };

  const read = (bytes: Uint8Array, at = 0): StructValue<F> => {
    const dv = view(bytes, at);
    const out: Record<string, number | bigint> = {};
    for (const { field, offset, type } of entries) {
      out[field] = getField(dv, offset, type);
    }
    return out as StructValue<F>;
  };

  const write = (bytes: Uint8Array, value: StructValue<F>, at = 0): void => {
    const dv = view(bytes, at);
    // Check every value before writing any, so a bad value leaves the buffer untouched.
    const values = entries.map((e) => checkValue(name, e.field, e.type, value[e.field]));
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as (typeof entries)[number];
      setField(dv, e.offset, e.type, values[i] ?? 0);
    }
  };

  const encode = (value: StructValue<F>): Uint8Array => {
    const out = new Uint8Array(size);
    write(out, value);
    return out;
  };

  return Object.freeze({ name, size, fields, read, write, encode });
}

function getField(dv: DataView, offset: number, type: FieldType): number | bigint {
  switch (type) {
    case 'u8':
      return dv.getUint8(offset);
    case 'u16':
      return dv.getUint16(offset, true);
    case 'u32':
      return dv.getUint32(offset, true);
    case 's32':
      return dv.getInt32(offset, true);
    case 'u64':
      return dv.getBigUint64(offset, true);
    case 's64':
      return dv.getBigInt64(offset, true);
  }
}

function setField(dv: DataView, offset: number, type: FieldType, v: number | bigint): void {
  if (type === 'u64' || type === 's64')
    dv.setBigUint64(offset, BigInt.asUintN(64, BigInt(v)), true);
  else if (type === 'u8') dv.setUint8(offset, Number(v));
  else if (type === 'u16') dv.setUint16(offset, Number(v), true);
  else dv.setUint32(offset, Number(v) >>> 0, true);
}

function fieldName(struct: string, field: string, type: FieldType): string {
  return `struct ${struct}: ${field} (${type})`;
}

function checkValue(struct: string, field: string, type: FieldType, v: unknown): number | bigint {
  // Messages are built only on failure: encodes run on hot kernel paths.
  if (type === 'u64' || type === 's64') {
    if (typeof v !== 'bigint')
      throw new TypeError(`${fieldName(struct, field, type)} needs a bigint, got ${typeof v}`);
    const [min, max] = BIGINT_RANGE[type];
    if (v < min || v > max)
      throw new RangeError(`${fieldName(struct, field, type)}: ${v} is out of range`);
    return v;
  }
  if (typeof v !== 'number')
    throw new TypeError(`${fieldName(struct, field, type)} needs a number, got ${typeof v}`);
  const [min, max] = NUMBER_RANGE[type];
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${fieldName(struct, field, type)}: ${v} is out of range`);
  }
  return v;
}
