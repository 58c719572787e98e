// dstack's web UI in Debian's Chromium, driven by playwright-core, against a running
// dstack-server: sign in with the admin token, open the project's settings, add a backend
// through the YAML editor, and see it listed; then add an SSH key on the admin's page and see
// it listed with its fingerprint. Run by tests/browser_ui.rs, which starts the
// server and reads the exit code; on failure a screenshot is written to $DSTACK_UI_SCREENSHOT.
//
// Only loopback is reached: every other request (the page's Google Fonts) is aborted, so the
// test neither depends on nor leaks to the internet.

'use strict';

const { chromium } = require('playwright-core');

const base = process.env.DSTACK_UI_URL;
const token = process.env.DSTACK_UI_TOKEN;
const project = process.env.DSTACK_UI_PROJECT || 'main';
const backendYaml = process.env.DSTACK_UI_BACKEND_YAML;
const backendType = process.env.DSTACK_UI_BACKEND_TYPE;
const screenshot = process.env.DSTACK_UI_SCREENSHOT;
const STEP_MS = 30_000;
/** Made by `ssh-keygen -t ed25519 -C alice@laptop`; `ssh-keygen -l` printed the fingerprint. */
const SSH_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILPvPaP6CVcZIUcSRdXQ+8UvwTNNprtlbggP95cmEJJM alice@laptop';
const SSH_KEY_FINGERPRINT = 'SHA256:g6jUbB0Cr5Dew9hjNE9XNvsUvK/Ey+RJ+HXTgN4VSbo';

/** Every API call the UI made, for the report when something fails. */
const calls = [];
/** Calls answered as if the endpoint did not exist, or with a server error. dstack Sky's
 * `/api/user/<name>/billing/...` is absent from open-source dstack too (405 there as here). */
const broken = [];

function step(name) {
  console.log(`--> ${name}`);
}

async function main(page) {
  step('open the server: the sign-in form');
  await page.goto(base + '/');
  await page.getByPlaceholder('Token').fill(token);
  await page.getByRole('button', { name: 'Continue' }).click();
  step('signed in: leaves the sign-in page');
  await page.waitForURL((url) => url.pathname !== '/' && !url.pathname.startsWith('/login'));
  // The sidebar shows the version from /api/server/get_info once the app has loaded.
  await page.getByText(/dstack version: \d/).first().waitFor();

  step(`open the settings of project ${project}`);
  await page.goto(`${base}/projects/${project}`);
  await page.getByRole('heading', { name: 'Backends' }).waitFor();
  await page.getByText('No backends to display.').waitFor();

  step('add a backend through the YAML editor');
  // The first "Add" of the page is the Backends table's (Secrets' comes later).
  await page.getByRole('button', { name: 'Add', exact: true }).first().click();
  await page.waitForURL(`**/projects/${project}/backends/add`);
  const editor = page.locator('.ace_editor');
  await editor.waitFor();
  await editor.click();
  // insertText is one input event: no auto-indent or bracket pairing of typed keys.
  await page.keyboard.insertText(backendYaml);
  // Ace renders the text on a later frame: wait for it rather than read it at once.
  const content = page.locator('.ace_editor .ace_content');
  try {
    await content.filter({ hasText: `type: ${backendType}` }).waitFor({ timeout: 10000 });
  } catch (err) {
    throw new Error(`the editor holds ${JSON.stringify(await content.innerText())}`);
  }
  await page.getByRole('button', { name: 'Save' }).click();

  step('back on the settings: the backend is listed');
  await page.waitForURL((url) => url.pathname === `/projects/${project}`);
  await page.getByRole('heading', { name: 'Backends' }).waitFor();
  await page.getByRole('cell', { name: backendType, exact: true }).first().waitFor();

  step("add an SSH key on the admin's page");
  await page.goto(`${base}/users/admin`);
  await page.getByText("You haven't added any SSH keys yet.").waitFor();
  await page.getByRole('button', { name: 'Add', exact: true }).first().click();
  const dialog = page.getByRole('dialog');
  await dialog.getByPlaceholder('ssh-ed25519 AAAA...').fill(SSH_KEY);
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();

  step('the key is listed with its name and fingerprint');
  await page.getByRole('cell', { name: 'alice@laptop', exact: true }).waitFor();
  await page.getByText(SSH_KEY_FINGERPRINT, { exact: true }).waitFor();
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.DSTACK_UI_CHROMIUM || '/usr/bin/chromium',
    // Chromium's sandbox refuses to run as root (containers, CI).
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(STEP_MS);
  await page.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    return ['127.0.0.1', 'localhost', '[::1]'].includes(host) ? route.continue() : route.abort();
  });
  page.on('response', async (response) => {
    const url = new URL(response.url());
    if (!url.pathname.startsWith('/api/')) return;
    const body = response.status() >= 400 ? await response.text().catch(() => '') : '';
    const call = `${response.status()} ${url.pathname} ${response.request().postData() || ''} ${body.slice(0, 300)}`;
    calls.push(call);
    const missing = [404, 405].includes(response.status()) && !url.pathname.startsWith('/api/user/');
    if (missing || response.status() >= 500) broken.push(call);
  });
  page.on('pageerror', (err) => console.log(`page error: ${err.message}`));
  let failed = false;
  try {
    await main(page);
    if (broken.length > 0) throw new Error(`the UI's calls failed:\n  ${broken.join('\n  ')}`);
    console.log('ok: signed in, opened the settings, added a backend and saw it listed');
  } catch (err) {
    failed = true;
    console.log(`FAILED at ${page.url()}: ${err.message}`);
    if (screenshot) {
      await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
      console.log(`screenshot: ${screenshot}`);
    }
    const text = await page.locator('body').innerText().catch(() => '');
    console.log(`page text: ${text.replace(/\s+/g, ' ').slice(0, 2000)}`);
  }
  console.log('API calls (status path body [error body]):');
  for (const call of calls) console.log(`  ${call}`);
  await browser.close();
  process.exit(failed ? 1 : 0);
})().catch((err) => {
  console.log(`cannot run the browser: ${err.stack || err}`);
  process.exit(2);
});
