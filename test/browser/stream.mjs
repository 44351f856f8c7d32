// stream.mjs: one big file up through ferry's drop page, for a test that
// watches the memory of the browser and of ferry while it goes.
//
//   node stream.mjs CONFIG.json
//
// CONFIG names the page (url), the file (path), Chromium (chromium), the
// profile folder to start it with (userDataDir: the caller finds the
// browser's processes by it) and how long the upload may take
// (uploadTimeoutMs).  The file goes to the page's file input by its path,
// as a person choosing it would give it, so Chromium reads it from disk.
//
// The script talks to its caller one JSON line at a time on stdout:
//   {"event": "ready"}           the page is loaded and idle; the caller
//                                takes its baseline and writes a line
//                                on stdin to start the upload;
//   {"event": "progress", ...}   the row's state, about once a second;
//   {"event": "report", ...}     the row finished (or not): what it says,
//                                the time, the console; the browser stays
//                                open until stdin gives another line or
//                                closes, so the caller can read the peaks.
// Closing stdin before the report stops the upload and the browser.
// Exits 0 when the row says done, 1 otherwise (the reason on stderr).

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const STEP_MS = 30000;
const POLL_MS = 1000;
const report = {
    event: 'report', console: [], pageErrors: [], job: null, secs: null,
};

// Lines from the caller, one promise per line, a line that comes early
// kept for the next ask; EOF answers every ask.
const stdin = createInterface({ input: process.stdin });
const waiting = [];
let early = 0;
let closed = false;
stdin.on('line', () => {
    if (waiting.length)
        waiting.shift()();
    else
        early++;
});
stdin.on('close', () => {
    closed = true;
    while (waiting.length)
        waiting.shift()();
});

function nextLine() {
    if (early > 0) {
        early--;
        return Promise.resolve();
    }
    return closed ? Promise.resolve()
        : new Promise((resolve) => waiting.push(resolve));
}

function say(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function watch(page) {
    page.on('console', (m) => report.console.push({
        type: m.type(), text: m.text(),
    }));
    page.on('pageerror', (e) => report.pageErrors.push(String(e)));
    page.on('dialog', (d) => {
        report.console.push({ type: 'dialog', text: d.message() });
        d.dismiss();
    });
}

function row(page) {
    return page.evaluate(() => {
        const r = document.querySelector('#jobs .job');
        if (!r)
            return null;
        return {
            name: r.querySelector('.name')?.textContent,
            cls: r.className,
            result: r.querySelector('.result')?.textContent,
            bytes: r.querySelector('.bytes')?.textContent,
            speed: r.querySelector('.speed')?.textContent,
            value: r.querySelector('progress')?.value,
            max: r.querySelector('progress')?.max,
        };
    });
}

const FINISHED = /\b(done|replaced|error|skipped)\b/;

// Polled rather than waited on in the page, so that the caller sees
// how far the upload has got while it runs, and can stop it by closing
// stdin.
async function waitFinished(page, start) {
    const deadline = start + cfg.uploadTimeoutMs;
    for (;;) {
        const job = await row(page);
        const secs = (Date.now() - start) / 1000;
        if (job && FINISHED.test(job.cls))
            return { job, secs };
        say({ event: 'progress', secs, job });
        if (closed)
            throw new Error('stdin closed: the caller gave up');
        if (Date.now() > deadline)
            throw new Error('the upload did not finish in ' +
                            cfg.uploadTimeoutMs + ' ms: ' +
                            JSON.stringify(job));
        await page.waitForTimeout(POLL_MS);
    }
}

async function run(page) {
    watch(page);
    await page.goto(cfg.url, { waitUntil: 'load', timeout: STEP_MS });
    await page.waitForSelector('input[type=file]#pick',
                               { state: 'attached', timeout: STEP_MS });
    say({ event: 'ready' });
    await nextLine();
    const start = Date.now();
    await page.setInputFiles('#pick', cfg.path, { timeout: STEP_MS });
    const { job, secs } = await waitFinished(page, start);
    report.job = job;
    report.secs = secs;
    if (!/\bdone\b/.test(job.cls))
        throw new Error('the row did not say done: ' + JSON.stringify(job));
}

async function main() {
    const context = await chromium.launchPersistentContext(cfg.userDataDir, {
        executablePath: cfg.chromium || '/usr/bin/chromium',
        headless: true,
        ignoreHTTPSErrors: true,
        viewport: { width: 1280, height: 800 },
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic',
               '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync',
               '--disable-dev-shm-usage'],
    });
    let failed = null;
    try {
        const page = context.pages()[0] || await context.newPage();
        try {
            await run(page);
        } catch (e) {
            failed = e;
            report.job = await row(page).catch(() => report.job);
        }
        say(report);
        await nextLine();
    } finally {
        await context.close();
        stdin.close();
    }
    if (failed) {
        process.stderr.write('stream.mjs: ' + (failed.stack || failed) +
                             '\n');
        process.exitCode = 1;
    }
}

main().catch((e) => {
    process.stderr.write('stream.mjs: ' + (e.stack || e) + '\n');
    process.exitCode = 1;
});
