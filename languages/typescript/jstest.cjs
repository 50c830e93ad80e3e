// gskill's test driver for JavaScript/TypeScript repositories (run by node inside the sandbox, from
// the repository's root). Usage:
//   node jstest.cjs run [ENTRY...]    ENTRY = a test file or a test id "<file>::<title path>"; none = the suite
//   node jstest.cjs check             type-check (tsc --noEmit) when the test script type-checks; else nothing
//   node jstest.cjs coverage FILE...  each test file run alone under NODE_V8_COVERAGE; prints per file
//                                     "gskill-test FILE" then "<source path>\t<function name>" per function
//                                     of the repository it ran (V8's function names: the coverage map's
//                                     granularity is test file x function)
// `run` picks the runner from package.json (vitest, jest, mocha, else node's own test runner), runs it
// with its machine-readable reporter writing to a file, and prints that file between marker lines:
//   gskill-js-report <runner> <file or *>
//   ...the reporter's output, unchanged...
//   gskill-js-report-end
// after the runner's own console output. A test id runs its whole file (the unit); the verdict reads
// only the ids it asks about. Exit status: the runner's (non-zero when any run failed).
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = process.cwd();
const pkg = (() => { try { return JSON.parse(fs.readFileSync('package.json', 'utf8')); } catch { return {}; } })();
const deps = { ...(pkg.dependencies || {}), ...(pkg.devDependencies || {}) };
const scripts = pkg.scripts || {};
const testScript = scripts.test || '';

function bin(name) {
  const local = path.join(root, 'node_modules', '.bin', name);
  return fs.existsSync(local) ? local : null;
}

function runner() {
  for (const name of ['vitest', 'jest', 'mocha']) {
    if (new RegExp(`\\b${name}\\b`).test(testScript) && bin(name)) return name;
  }
  if (/\bnode\b[^&|;]*--test\b/.test(testScript)) return 'node';
  for (const name of ['vitest', 'jest', 'mocha']) if (deps[name] && bin(name)) return name;
  return 'node';
}

// node --test's default patterns (Node 22), for a suite run by node's runner.
const NODE_TEST = /(^|\/)(test\/.*\.[cm]?[jt]s|[^/]*[.\-_]test\.[cm]?[jt]s|test-[^/]*\.[cm]?[jt]s|test\.[cm]?[jt]s)$/;

function gitFiles() {
  const done = spawnSync('git', ['ls-files', '-co', '--exclude-standard'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return (done.stdout || '').split('\n').filter((f) => f && !f.split('/').includes('node_modules'));
}

function suiteFiles(name) {
  if (name !== 'node') return [];
  const listed = testScript.match(/--test\s+((?:[^\s&|;]+\s*)+)/);
  const given = listed ? listed[1].trim().split(/\s+/).filter((a) => !a.startsWith('-')) : [];
  return gitFiles().filter((f) =>
    given.length ? given.some((g) => f === g || f.startsWith(g.replace(/\/?$/, '/')) || globMatch(g, f)) : NODE_TEST.test(f));
}

function globMatch(glob, file) {
  if (!/[*?]/.test(glob)) return false;
  const pattern = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '(.*/)?').replace(/\*\*/g, '.*')
    .replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${pattern}$`).test(file);
}

function tmp(name) {
  const dir = '/tmp/gskill-js';
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.rmSync(file, { force: true });
  return file;
}

function emit(name, label, file) {
  process.stdout.write(`\ngskill-js-report ${name} ${label}\n`);
  if (fs.existsSync(file)) process.stdout.write(fs.readFileSync(file, 'utf8'));
  process.stdout.write('\ngskill-js-report-end\n');
}

function spawn(command, args, extraEnv = {}) {
  const done = spawnSync(command, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0', ...extraEnv },
  });
  return done.status === null ? 1 : done.status;
}

function run(entries) {
  const name = runner();
  const files = [...new Set(entries.map((e) => e.split('::')[0]))];
  process.stdout.write(`gskill-js-root ${root}\ngskill-js-runner ${name}\n`);
  if (name === 'node') {
    let rc = 0;
    for (const file of files.length ? files : suiteFiles(name)) {
      const out = tmp('node.xml');
      const flags = /\.[cm]?tsx?$/.test(file) ? ['--experimental-strip-types'] : [];
      rc = spawn(process.execPath, [...flags, '--test', '--test-reporter=junit', `--test-reporter-destination=${out}`, file]) || rc;
      emit(name, file, out);
    }
    return rc;
  }
  const out = tmp(`${name}.json`);
  let args;
  // Coverage: vitest's fork workers are killed before V8 writes their coverage; threads write it.
  const pool = process.env.NODE_V8_COVERAGE ? ['--pool=threads'] : [];
  if (name === 'vitest') args = ['run', '--reporter=json', `--outputFile=${out}`, '--coverage.enabled=false', ...pool, ...files];
  else if (name === 'jest') args = ['--json', `--outputFile=${out}`, '--ci', '--no-watchman', ...(files.length ? ['--runTestsByPath', ...files] : [])];
  else args = ['--reporter', 'json', '--reporter-option', `output=${out}`, ...files];
  const rc = spawn(bin(name), args);
  emit(name, '*', out);
  return rc;
}

// Scripts the test script runs (`npm run X`, `pnpm X`, `yarn X`, `run-s X`), itself and its pre/post.
function testScripts() {
  const seen = new Set();
  const queue = ['pretest', 'test', 'posttest'];
  while (queue.length) {
    const name = queue.shift();
    if (seen.has(name) || !scripts[name]) continue;
    seen.add(name);
    for (const m of scripts[name].matchAll(/\b(?:npm run|pnpm(?: run)?|yarn(?: run)?|run-s|run-p|npm-run-all)\s+([\w:.-]+(?:\s+[\w:.-]+)*)/g)) {
      queue.push(...m[1].split(/\s+/));
    }
  }
  return [...seen].map((name) => scripts[name]);
}

function check() {
  const typed = testScripts().find((text) => /\btsc\b/.test(text));
  if (!typed || !bin('tsc')) return 0;
  const project = typed.match(/\btsc\b[^&|;]*?(?:-p|--project)\s+(\S+)/);
  const args = ['--noEmit', '--incremental', 'false', '--pretty', 'false', ...(project ? ['-p', project[1]] : [])];
  return spawn(bin('tsc'), args);
}

function coverage(files) {
  const dir = '/tmp/gskill-js/v8';
  const { pathToFileURL } = require('url');
  const prefix = pathToFileURL(root).href + '/';
  for (const file of files) {
    fs.rmSync(dir, { recursive: true, force: true });
    spawnSync(process.execPath, [__filename, 'run', file], {
      stdio: 'ignore', env: { ...process.env, NODE_V8_COVERAGE: dir }, timeout: 600000,
    });
    const ran = new Set();
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      let data;
      try { data = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')); } catch { continue; }
      for (const script of data.result || []) {
        const url = script.url.startsWith('/') ? pathToFileURL(script.url).href : script.url;
        if (!url.startsWith(prefix)) continue;
        const rel = decodeURIComponent(url.slice(prefix.length)).split('?')[0];
        if (rel.split('/').includes('node_modules') || rel === file) continue;
        for (const fn of script.functions || []) {
          const called = fn.ranges && fn.ranges.length && fn.ranges[0].count > 0;
          if (called && fn.functionName) ran.add(`${rel}\t${fn.functionName}`);
        }
      }
    }
    process.stdout.write(`gskill-test ${file}\n${[...ran].sort().join('\n')}\n`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return 0;
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'run') process.exitCode = run(rest);
else if (mode === 'check') process.exitCode = check();
else if (mode === 'coverage') process.exitCode = coverage(rest);
else { process.stderr.write(`gskill jstest: unknown mode ${mode}\n`); process.exitCode = 2; }
