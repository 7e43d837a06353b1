/**
 * The kexec-metadata blob KHO hands to the next kernel under the root FDT node
 * "kexec-metadata": who kexec'd us and how many kexecs since the cold boot.
 *
 * **Models:** include/linux/kho/abi/kexec_metadata.h (v7.2-era mainline), spec §4.8.
 *
 * **Abstracted:** nothing in the layout (73 bytes, packed, little-endian).
 */

export const KHO_METADATA_NODE_NAME = 'kexec-metadata';
export const KHO_KEXEC_METADATA_VERSION = 1;
/** __NEW_UTS_LEN + 1 */
export const KHO_RELEASE_LEN = 65;
export const KHO_KEXEC_METADATA_OFF_VERSION = 0;
export const KHO_KEXEC_METADATA_OFF_RELEASE = 4;
export const KHO_KEXEC_METADATA_OFF_COUNT = 4 + KHO_RELEASE_LEN;
export const KHO_KEXEC_METADATA_SIZEOF = KHO_KEXEC_METADATA_OFF_COUNT + 4;

export interface kho_kexec_metadata {
  version: number;
  previous_release: string;
  kexec_count: number;
}

export function kho_kexec_metadata_encode(m: kho_kexec_metadata): Uint8Array {
  const out = new Uint8Array(KHO_KEXEC_METADATA_SIZEOF);
  const dv = new DataView(out.buffer);
  dv.setUint32(KHO_KEXEC_METADATA_OFF_VERSION, m.version, true);
  const rel = new TextEncoder().encode(m.previous_release).subarray(0, KHO_RELEASE_LEN - 1);
  out.set(rel, KHO_KEXEC_METADATA_OFF_RELEASE);
  dv.setUint32(KHO_KEXEC_METADATA_OFF_COUNT, m.kexec_count, true);
  return out;
}

export function kho_kexec_metadata_decode(bytes: Uint8Array): kho_kexec_metadata {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, KHO_KEXEC_METADATA_SIZEOF);
  const rel = bytes.subarray(
    KHO_KEXEC_METADATA_OFF_RELEASE,
    KHO_KEXEC_METADATA_OFF_RELEASE + KHO_RELEASE_LEN,
  );
  const nul = rel.indexOf(0);
  return {
    version: dv.getUint32(KHO_KEXEC_METADATA_OFF_VERSION, true),
    previous_release: new TextDecoder().decode(nul < 0 ? rel : rel.subarray(0, nul)),
    kexec_count: dv.getUint32(KHO_KEXEC_METADATA_OFF_COUNT, true),
  };
}
