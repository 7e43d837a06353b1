/**
 * The /dev/liveupdate uAPI: ioctl numbers, argument struct layouts and name limits.
 *
 * **Models:** include/uapi/linux/liveupdate.h (v7.2-era mainline, with GET_NAME): the command
 * enum, the six `_IO(0xBA, nr)` commands and the five argument structs, byte for byte
 * (natural alignment, little-endian).
 * **Abstracted:** nothing of the ABI. Structs are byte buffers; the typed views below encode and
 * decode them for userspace helpers and for the kernel side, which reads only via these offsets.
 *
 * Note: every command is `_IO` (no direction or size bits) — the struct size travels in the
 * struct's own leading `size` field, which is what makes the structs extensible.
 */
import { defineStruct } from '../../../lib/struct.ts';
import { _IO } from '../asm-generic/ioctl.ts';

export const LIVEUPDATE_IOCTL_TYPE = 0xba;
/** Includes the terminating NUL: names are 1..63 characters. */
export const LIVEUPDATE_SESSION_NAME_LENGTH = 64;

export const LIVEUPDATE_CMD_BASE = 0x00;
export const LIVEUPDATE_CMD_CREATE_SESSION = LIVEUPDATE_CMD_BASE;
export const LIVEUPDATE_CMD_RETRIEVE_SESSION = 0x01;
export const LIVEUPDATE_CMD_SESSION_BASE = 0x40;
export const LIVEUPDATE_CMD_SESSION_PRESERVE_FD = LIVEUPDATE_CMD_SESSION_BASE;
export const LIVEUPDATE_CMD_SESSION_RETRIEVE_FD = 0x41;
export const LIVEUPDATE_CMD_SESSION_FINISH = 0x42;
export const LIVEUPDATE_CMD_SESSION_GET_NAME = 0x43;

export const LIVEUPDATE_IOCTL_CREATE_SESSION = _IO(
  LIVEUPDATE_IOCTL_TYPE,
  LIVEUPDATE_CMD_CREATE_SESSION,
);
export const LIVEUPDATE_IOCTL_RETRIEVE_SESSION = _IO(
  LIVEUPDATE_IOCTL_TYPE,
  LIVEUPDATE_CMD_RETRIEVE_SESSION,
);
export const LIVEUPDATE_SESSION_PRESERVE_FD = _IO(
  LIVEUPDATE_IOCTL_TYPE,
  LIVEUPDATE_CMD_SESSION_PRESERVE_FD,
);
export const LIVEUPDATE_SESSION_RETRIEVE_FD = _IO(
  LIVEUPDATE_IOCTL_TYPE,
  LIVEUPDATE_CMD_SESSION_RETRIEVE_FD,
);
export const LIVEUPDATE_SESSION_FINISH = _IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_FINISH);
export const LIVEUPDATE_SESSION_GET_NAME = _IO(
  LIVEUPDATE_IOCTL_TYPE,
  LIVEUPDATE_CMD_SESSION_GET_NAME,
);

/** Offset of the `name` char array in the create, retrieve and get-name structs. */
export const LIVEUPDATE_NAME_OFFSET = 8;

export const liveupdate_ioctl_create_session = defineStruct('liveupdate_ioctl_create_session', 72, {
  size: [0, 'u32'],
  fd: [4, 's32'],
});

export const liveupdate_ioctl_retrieve_session = defineStruct(
  'liveupdate_ioctl_retrieve_session',
  72,
  { size: [0, 'u32'], fd: [4, 's32'] },
);

export const liveupdate_session_preserve_fd = defineStruct('liveupdate_session_preserve_fd', 16, {
  size: [0, 'u32'],
  fd: [4, 's32'],
  token: [8, 'u64'],
});

export const liveupdate_session_retrieve_fd = defineStruct('liveupdate_session_retrieve_fd', 16, {
  size: [0, 'u32'],
  fd: [4, 's32'],
  token: [8, 'u64'],
});

export const liveupdate_session_finish = defineStruct('liveupdate_session_finish', 8, {
  size: [0, 'u32'],
  reserved: [4, 'u32'],
});

export const liveupdate_session_get_name = defineStruct('liveupdate_session_get_name', 72, {
  size: [0, 'u32'],
  reserved: [4, 'u32'],
});

/** The name array of a create/retrieve/get-name struct, as a view into `buf`. */
export function liveupdate_name_bytes(buf: Uint8Array): Uint8Array {
  return buf.subarray(
    LIVEUPDATE_NAME_OFFSET,
    LIVEUPDATE_NAME_OFFSET + LIVEUPDATE_SESSION_NAME_LENGTH,
  );
}
