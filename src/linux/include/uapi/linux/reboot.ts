/**
 * reboot(2) magic numbers and commands.
 *
 * **Models:** include/uapi/linux/reboot.h (v7.2-era mainline).
 * **Abstracted:** the commands other than KEXEC are listed for completeness only.
 */

export const LINUX_REBOOT_MAGIC1 = 0xfee1dead;
export const LINUX_REBOOT_MAGIC2 = 672274793;

export const LINUX_REBOOT_CMD_RESTART = 0x01234567;
export const LINUX_REBOOT_CMD_HALT = 0xcdef0123;
export const LINUX_REBOOT_CMD_POWER_OFF = 0x4321fedc;
export const LINUX_REBOOT_CMD_KEXEC = 0x45584543;
