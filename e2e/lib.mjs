// Helpers of the end-to-end tests: a freshly built server with the demo
// practice, Debian's Chromium driven through playwright-core, axe-core,
// and Chromium's network emulation for the slow-link figures.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const artifacts = process.env.SHAREDCARE_ARTIFACTS || join(here, '..', 'artifacts');
const bin = process.env.SHAREDCARE_BIN || join(here, '..', 'sharedcare');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// The machine's network refuses connections out, so Chromium must not try
// its background ones; and it runs as root in CI, hence --no-sandbox.
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// A copper line "little better than dial-up": 256 kbit/s each way, 300 ms
// round trip. CDP takes bytes per second.
export const slowLink = { offline: false, latency: 300, downloadThroughput: 256000 / 8, uploadThroughput: 256000 / 8 };

// startServer runs `sharedcare serve --demo` on a random loopback port with
// a fresh database, and returns its URL and the demo passwords it prints.
export async function startServer() {
  const data = mkdtempSync(join(tmpdir(), 'sharedcare-e2e-'));
  const proc = spawn(bin, ['serve', '--demo', '-addr', '127.0.0.1:0', '-data', data, '-log-format', 'json'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const passwords = {};
  let out = '';
  let err = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${out}\n${err}`)), 60000);
    proc.stdout.on('data', (d) => {
      out += d;
      for (const m of out.matchAll(/^\s+(clinician|patient)\s+(\S+)\s+(\S+)\s+\(/gm)) passwords[m[2]] = m[3];
    });
    proc.stderr.on('data', (d) => {
      err += d;
      // It logs its address once it listens, after printing the demo.
      const m = err.match(/"msg":"sharedcare serving","addr":"127\.0\.0\.1:(\d+)"/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}:\n${out}\n${err}`)); });
  });
  if (!passwords['sarah.hughes'] || !passwords['margaret.thompson']) throw new Error(`no demo passwords in:\n${out}`);
  return {
    url: `http://localhost:${port}`,
    passwords,
    log: () => err,
    stop() {
      proc.removeAllListeners('exit');
      proc.kill('SIGTERM');
      rmSync(data, { recursive: true, force: true });
    },
  };
}

// browser opens a fresh Chromium profile (a new --user-data-dir) and
// returns its context; pages record console errors, which a CSP violation
// would be.
export async function browser() {
  const profile = mkdtempSync(join(tmpdir(), 'sharedcare-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath, headless: true, args: chromiumArgs, viewport: { width: 1024, height: 768 },
  });
  context.errors = [];
  context.on('page', (p) => watch(context, p));
  for (const p of context.pages()) watch(context, p);
  const close = context.close.bind(context);
  context.close = async () => {
    await close();
    rmSync(profile, { recursive: true, force: true });
  };
  return context;
}

function watch(context, page) {
  page.on('console', (m) => {
    // A form sent back with its errors is a 400, which Chromium reports;
    // that is the page working, not failing.
    if (m.type() === 'error' && !/status of 400/.test(m.text())) context.errors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => context.errors.push(`${page.url()}: ${e.message}`));
}

// signIn signs user in to app through the sign-in and consent pages of
// the authorisation server, as a person would.
export async function signIn(page, server, app, user) {
  await page.goto(`${server.url}/`);
  await page.getByRole('link', { name: app === 'patient' ? 'Sign in to your record' : 'Sign in as a clinician' }).click();
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(server.passwords[user]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Allow', exact: true }).click();
  await page.waitForURL(`${server.url}/${app}/`);
}

// axe runs axe-core in page (through the DevTools protocol, which the
// page's CSP does not govern) and returns the serious and critical
// violations, WCAG 2.1 A and AA.
export async function axe(page) {
  await page.evaluate(axeSource);
  const res = await page.evaluate(() => window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }));
  return {
    all: res.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })),
    serious: res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
  };
}

export async function screenshot(page, name) {
  const dir = join(artifacts, 'screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

// measure loads url twice over the slow link in a fresh Chromium profile
// holding only the session cookies: first as a first visit (an empty
// cache), then again as a later one. It returns the bytes over the wire of
// each (compressed bodies and headers, as Chromium counts them), the
// requests, and the first load's timings.
export async function measure(cookies, url) {
  const ctx = await browser();
  try {
    await ctx.addCookies(cookies);
    const page = ctx.pages()[0] || await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', slowLink);
    let bytes = 0;
    let requests = 0;
    cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; requests++; });
    const load = async () => {
      bytes = 0;
      requests = 0;
      await page.goto(url, { waitUntil: 'networkidle' });
      return { bytes, requests };
    };
    const first = await load();
    const timing = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0];
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      return { domContentLoaded: Math.round(n.domContentLoadedEventEnd), load: Math.round(n.loadEventEnd), firstContentfulPaint: fcp ? Math.round(fcp.startTime) : null };
    });
    const repeat = await load();
    assert(page.url() === url, `${url} ended at ${page.url()}`);
    return { first, repeat, timing };
  } finally {
    await ctx.close();
  }
}

function assert(ok, msg) {
  if (!ok) throw new Error(msg);
}
