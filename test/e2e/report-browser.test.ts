/**
 * The HTML report as a person sees it: rendered by headless Chromium (Debian's chromium, driven
 * by playwright-core), it shows every task as a column, the violated property, the violating
 * step highlighted, and the replay command. CI installs chromium; elsewhere the test skips
 * when the browser is absent.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);

test(
  'the report renders every task and the violating event',
  { skip: !present && process.env.CI !== 'true' && 'chromium not installed' },
  async () => {
    assert.ok(present, `${CHROMIUM} is required in CI`);
    const dir = mkdtempSync(join(tmpdir(), 'luosim-report-'));
    const report = join(dir, 'report.html');
    const r = spawnSync(
      process.execPath,
      ['bin/luosim.mjs', 'check', 'srcu-use-after-free', '--report', report],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 1, r.stderr);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(pathToFileURL(report).href);
      const headers = await page.locator('#timeline thead th').allTextContents();
      assert.deepEqual(headers, ['step', 'T0 updater', 'T1 reader0']);
      const violation = await page.locator('#violation').textContent();
      assert.match(violation ?? '', /no-use-after-free: reader0 read the object after kfree/);
      const marked = page.locator('tr.violating');
      assert.equal(await marked.count(), 1);
      assert.ok(await marked.isVisible());
      const markedText = await marked.textContent();
      assert.match(markedText ?? '', /srcu_read_unlock/);
      const bg = await page.evaluate<string>(
        "getComputedStyle(document.querySelector('tr.violating td')).backgroundColor",
      );
      assert.notEqual(bg, 'rgba(0, 0, 0, 0)');
      assert.match(
        (await page.locator('code.replay').textContent()) ?? '',
        /^npx luosim replay ls1\./,
      );
      await page.screenshot({ path: join(dir, 'report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  },
);
