// drop.mjs: drive Debian's Chromium through ferry's writable listing page.
//
//   node drop.mjs CONFIG.json
//
// CONFIG names the page (url), the files to drop onto it ([{name, path}]),
// where to save the screenshot, and optionally a file to drop again so that
// the page must ask before replacing it (replace: {name, path}), a folder
// to create with "New folder" (mkdir) and an entry to delete (delete).
// The script does what a person would: drags the files onto the page,
// waits for every upload row to finish, answers the prompt and the
// confirmations.  It prints one JSON object on stdout (what the rows,
// the status line and the console said) and exits 0; any step that does
// not happen in time exits 1 with the reason on stderr and the same JSON.
// The caller (test/e2e/test_upload_browser.py) checks the stored files.

import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const STEP_MS = cfg.stepTimeoutMs || 30000;
const report = {
    console: [], pageErrors: [], cspViolations: [], dialogs: [],
    controls: {}, jobs: [], replaced: null, mkdir: null, deleted: null,
    rows: [],
};

// Chromium reports a blocked script, style or request on the console
// and as a securitypolicyviolation event; both are collected.
function watch(page) {
    page.on('console', (m) => {
        report.console.push({ type: m.type(), text: m.text() });
        if (/Content[- ]Security[- ]Policy/i.test(m.text()))
            report.cspViolations.push(m.text());
    });
    page.on('pageerror', (e) => report.pageErrors.push(String(e)));
    page.on('dialog', async (d) => {
        report.dialogs.push({ type: d.type(), message: d.message() });
        if (d.type() === 'prompt')
            await d.accept(cfg.mkdir || '');
        else
            await d.accept();
    });
}

function recordViolations() {
    document.addEventListener('securitypolicyviolation', (e) => {
        window.__cspViolations = window.__cspViolations || [];
        window.__cspViolations.push(e.violatedDirective + ' ' +
                                    e.blockedURI);
    });
}

// The files are made in the page from bytes sent as base64, put in a
// DataTransfer, and dragged in: dragenter and dragover on the drop zone
// (the page must accept them by cancelling dragover), then drop.
async function drop(page, files) {
    const payload = files.map((f) => ({
        name: f.name, b64: readFileSync(f.path).toString('base64'),
    }));
    const dt = await page.evaluateHandle((list) => {
        const t = new DataTransfer();
        for (const f of list) {
            const bin = atob(f.b64);
            const bytes = new Uint8Array(bin.length);
            for (let i = 0; i < bin.length; i++)
                bytes[i] = bin.charCodeAt(i);
            t.items.add(new File([bytes], f.name,
                                 { type: 'application/octet-stream' }));
        }
        return t;
    }, payload);
    return page.evaluate((t) => {
        const zone = document.querySelector('.drop') || document.body;
        const fire = (type) => {
            const e = new DragEvent(type, {
                bubbles: true, cancelable: true, dataTransfer: t,
            });
            zone.dispatchEvent(e);
            return e.defaultPrevented;
        };
        const entered = fire('dragenter');
        const accepted = fire('dragover');
        const highlighted = document.body.classList.contains('over');
        fire('drop');
        return { entered, accepted, highlighted };
    }, dt);
}

// Rows of the upload list, finished or not.
function jobs(page) {
    return page.$$eval('#jobs .job', (rows) => rows.map((r) => ({
        name: r.querySelector('.name')?.textContent,
        cls: r.className,
        result: r.querySelector('.result')?.textContent,
        bytes: r.querySelector('.bytes')?.textContent,
        speed: r.querySelector('.speed')?.textContent,
        value: r.querySelector('progress')?.value,
        max: r.querySelector('progress')?.max,
    })));
}

async function waitJobs(page, count) {
    await page.waitForFunction((n) => {
        const rows = document.querySelectorAll('#jobs .job');
        return rows.length >= n && Array.from(rows).every((r) =>
            /\b(done|replaced|error|skipped)\b/.test(r.className));
    }, count, { timeout: STEP_MS });
    return jobs(page);
}

async function waitMessage(page, re) {
    await page.waitForFunction((src) =>
        new RegExp(src).test(document.getElementById('msg').textContent),
    re.source, { timeout: STEP_MS });
    return page.$eval('#msg', (m) => m.textContent);
}

function listedNames(page) {
    return page.$$eval('tbody tr a', (as) => as.map((a) => a.textContent));
}

async function controls(page) {
    return page.evaluate(() => ({
        dropZone: !!document.querySelector('.drop'),
        picker: !!document.querySelector('input[type=file]#pick'),
        newFolder: !!document.getElementById('mkdir'),
        deleteButtons: document.querySelectorAll('tbody button.del').length,
        scripts: document.scripts.length,
    }));
}

async function deleteEntry(page, name) {
    const row = page.locator('tbody tr').filter({
        has: page.locator('a', { hasText: name }),
    });
    await row.locator('button.del').click({ timeout: STEP_MS });
    const said = await waitMessage(page, /^Deleted |: /);
    await page.waitForFunction((n) => !Array.from(
        document.querySelectorAll('tbody tr a')).some((a) =>
        a.textContent === n || a.textContent === n + '/'), name,
    { timeout: STEP_MS });
    return said;
}

async function run(page) {
    watch(page);
    await page.addInitScript(recordViolations);
    await page.goto(cfg.url, { waitUntil: 'load', timeout: STEP_MS });
    report.controls = await controls(page);
    report.drop = await drop(page, cfg.files);
    report.jobs = await waitJobs(page, cfg.files.length);
    await page.waitForTimeout(300);     // let the listing refresh
    await page.screenshot({ path: cfg.screenshot, fullPage: true });
    if (cfg.replace) {
        await drop(page, [cfg.replace]);
        const all = await waitJobs(page, cfg.files.length + 1);
        report.replaced = all[all.length - 1];
    }
    if (cfg.mkdir) {
        await page.click('#mkdir', { timeout: STEP_MS });
        report.mkdir = await waitMessage(page, /^Created |: /);
        await page.waitForFunction((n) => Array.from(
            document.querySelectorAll('tbody tr a')).some((a) =>
            a.textContent === n + '/'), cfg.mkdir, { timeout: STEP_MS });
    }
    if (cfg.delete)
        report.deleted = await deleteEntry(page, cfg.delete);
    report.rows = await listedNames(page);
    report.cspViolations.push(...await page.evaluate(
        () => window.__cspViolations || []));
}

async function main() {
    const browser = await chromium.launch({
        executablePath: cfg.chromium || '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic',
               '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync',
               '--disable-dev-shm-usage'],
    });
    let failed = null;
    try {
        const context = await browser.newContext({
            ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 },
        });
        const page = await context.newPage();
        try {
            await run(page);
        } catch (e) {
            failed = e;
            report.jobs = await jobs(page).catch(() => report.jobs);
            await page.screenshot({ path: cfg.screenshot, fullPage: true })
                .catch(() => {});
        }
    } finally {
        await browser.close();
    }
    process.stdout.write(JSON.stringify(report) + '\n');
    if (failed) {
        process.stderr.write('drop.mjs: ' + (failed.stack || failed) + '\n');
        process.exitCode = 1;
    }
}

main().catch((e) => {
    process.stderr.write('drop.mjs: ' + (e.stack || e) + '\n');
    process.exitCode = 1;
});
