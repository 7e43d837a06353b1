/** A one-line progress display on stderr, shown only when stderr is a terminal. */
export interface Progress {
  update(text: string): void;
  done(): void;
}

export function makeProgress(): Progress {
  if (!process.stderr.isTTY) return { update: () => undefined, done: () => undefined };
  let last = 0;
  let shown = false;
  return {
    update(text) {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      shown = true;
      process.stderr.write(`\r\x1b[K${text}`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}
