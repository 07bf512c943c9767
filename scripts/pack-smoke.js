'use strict'
// Checks the npm tarball as a user gets it:
// 1. `npm pack`, and the tarball holds what it must (prebuilds for x64 and
//    arm64, dist JS + .d.ts, esm/, binding.gyp, native sources) and nothing
//    it must not (tests, benches, build output, downloaded Node binaries);
// 2. installs it into an empty temp project with --ignore-scripts and a PATH
//    holding only `node` (no compiler, no make, no python);
// 3. type-checks a TypeScript file importing the package's .d.ts;
// 4. runs test/smoke/smoke.js there;
// 5. with --from-source, installs it again with scripts and --build-from-source
//    (what a platform without a prebuild gets) and runs the smoke test on that;
// 6. with --arm64, runs the smoke test of step 4 on the official arm64 Node
//    (scripts/node-line.sh) under qemu, children included.
// Usage: node scripts/pack-smoke.js [--arm64] [--from-source] [--keep]
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const args = new Set(process.argv.slice(2))
const started = Date.now()
const step = (what) => console.log(`pack-smoke: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`)

// Whatever is under native/ and dist/ is checked by folder, so new sources need no change here.
const MUST = [
  /^prebuilds\/linux-x64\/[^/]+\.node$/,
  /^prebuilds\/linux-arm64\/[^/]+\.node$/,
  /^dist\/index\.js$/,
  /^dist\/index\.d\.ts$/,
  /^esm\/index\.mjs$/,
  /^binding\.gyp$/,
  /^native\/addon\.cc$/,
  /^package\.json$/,
  /^README\.md$/,
]
const MUST_NOT = /^(test|bench|build|examples|scripts|lib|\.ci|node_modules)\/|\.tgz$|\.tsbuildinfo$|^tsconfig\.json$/

function fail(message) {
  console.error(`pack-smoke: FAIL ${message}`)
  process.exit(1)
}

function npmCli() {
  // npm_execpath is set when run by npm; otherwise find the npm next to node.
  const candidates = [
    process.env.npm_execpath,
    path.join(path.dirname(process.execPath), '../lib/node_modules/npm/bin/npm-cli.js'),
  ]
  const found = candidates.find((p) => p && p.endsWith('.js') && fs.existsSync(p))
  if (!found) fail('cannot find npm-cli.js')
  return found
}

function sameFiles(dir) {
  return fs.existsSync(dir)
    ? fs.readdirSync(dir, { recursive: true }).filter((f) => fs.statSync(path.join(dir, f)).isFile())
    : []
}

function pack(dest) {
  // The newest source file: a prebuild older than it is stale.
  const sources = ['binding.gyp', ...sameFiles(path.join(root, 'native')).map((f) => path.join('native', f))]
  const newest = Math.max(...sources.map((f) => fs.statSync(path.join(root, f)).mtimeMs))
  for (const arch of ['x64', 'arm64']) {
    const dir = path.join(root, 'prebuilds', `linux-${arch}`)
    const bins = sameFiles(dir)
    if (!bins.length) fail(`no prebuilds/linux-${arch}: run npm run prebuild first`)
    if (bins.some((f) => fs.statSync(path.join(dir, f)).mtimeMs < newest))
      fail(`prebuilds/linux-${arch} is older than native/: run npm run prebuild`)
  }
  const out = execFileSync(process.execPath, [npmCli(), 'pack', '--json', '--pack-destination', dest], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  // npm pack runs `prepare` (tsc), whose output goes to stdout before the JSON.
  const [info] = JSON.parse(out.slice(out.indexOf('\n[') + 1))
  const files = info.files.map((f) => f.path)
  const missing = MUST.filter((re) => !files.some((f) => re.test(f)))
  const extra = files.filter((f) => MUST_NOT.test(f))
  // Every native source and every compiled file of the checkout is in it.
  for (const dir of ['native', 'dist']) {
    for (const f of sameFiles(path.join(root, dir))) if (!files.includes(`${dir}/${f}`)) missing.push(`${dir}/${f}`)
  }
  for (const f of files.filter((f) => f.startsWith('dist/') && f.endsWith('.js'))) {
    if (!files.includes(f.replace(/\.js$/, '.d.ts'))) missing.push(f.replace(/\.js$/, '.d.ts'))
  }
  if (missing.length || extra.length) {
    fail(
      `tarball contents:${missing.map((m) => `\n  missing ${m}`).join('')}${extra.map((e) => `\n  unwanted ${e}`).join('')}`,
    )
  }
  const prebuilds = info.files.filter((f) => f.path.startsWith('prebuilds/')).map((f) => `${f.path} ${f.size} B`)
  step(`packed ${info.filename}: ${files.length} files, ${info.size} B (${prebuilds.join(', ')})`)
  return path.join(dest, info.filename)
}

function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ipc-kit-pack-smoke-'))
  try {
    const tarball = pack(tmp)

    // An empty project, and a PATH with node alone: nothing can compile.
    const project = path.join(tmp, 'project')
    const bin = path.join(tmp, 'bin')
    fs.mkdirSync(project)
    fs.mkdirSync(bin)
    fs.symlinkSync(process.execPath, path.join(bin, 'node'))
    fs.writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'smoke', version: '1.0.0', private: true }),
    )
    const env = { ...process.env, PATH: bin }
    for (const k of Object.keys(env)) if (/^npm_/i.test(k)) delete env[k]
    for (const tool of ['cc', 'gcc', 'g++', 'c++', 'clang', 'make', 'python3']) {
      if (spawnSync(tool, ['--version'], { env }).error?.code !== 'ENOENT')
        fail(`${tool} is reachable with PATH=${bin}`)
    }
    execFileSync(
      process.execPath,
      [npmCli(), 'install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', tarball],
      {
        cwd: project,
        env,
        stdio: 'inherit',
      },
    )
    step('installed with --ignore-scripts and no compiler on PATH')

    // The package's types, as a TypeScript user sees them (compiled, never run).
    fs.writeFileSync(
      path.join(project, 'types.ts'),
      [
        "import { IPCBuffer, IPCError, Semaphore, Mutex, GuardedBuffer, type OpenOptions, type AcquireOptions } from 'ipc-kit'",
        'const opts: OpenOptions = { size: 8, create: "exclusive" }',
        'const b: Buffer = IPCBuffer.posix("/x", opts)',
        'const s: Promise<void> = Semaphore.posix("/x").wait({ timeout: 1 })',
        'const wait: AcquireOptions = { timeout: 1 }',
        'const m: Promise<() => void> = new Mutex("x").acquire(wait)',
        'const g: Buffer = GuardedBuffer.open("x").buffer',
        'const e: typeof IPCError = IPCError',
        'void b, s, m, g, e',
        '',
      ].join('\n'),
    )
    const tsc = spawnSync(
      process.execPath,
      [
        path.join(root, 'node_modules/typescript/bin/tsc'),
        '--noEmit',
        '--strict',
        '--module',
        'node16',
        '--moduleResolution',
        'node16',
        '--target',
        'ES2022',
        '--lib',
        'ES2022,ESNext.Disposable',
        '--typeRoots',
        path.join(root, 'node_modules/@types'),
        '--types',
        'node',
        'types.ts',
      ],
      { cwd: project, env, stdio: 'inherit' },
    )
    if (tsc.status !== 0) fail('the installed .d.ts do not type-check')
    step('types check')

    const run = (dir, node, extraEnv = {}) => {
      const smoke = path.join(dir, 'smoke')
      fs.cpSync(path.join(root, 'test/smoke'), smoke, { recursive: true })
      const [cmd, ...pre] = node
      const r = spawnSync(cmd, [...pre, path.join(smoke, 'smoke.js')], {
        cwd: dir,
        env: { ...env, ...extraEnv },
        stdio: 'inherit',
      })
      if (r.status !== 0) fail(`smoke test on ${cmd} exited with ${r.status ?? r.signal}`)
    }
    run(project, [process.execPath])
    step(`smoke passed on ${process.arch}`)

    if (args.has('--from-source')) {
      // The package's own sources must build (binding.gyp + native/): this is
      // what a platform without a prebuild gets. Needs the usual build tools.
      const built = path.join(tmp, 'from-source')
      fs.mkdirSync(built)
      fs.writeFileSync(
        path.join(built, 'package.json'),
        JSON.stringify({ name: 'smoke', version: '1.0.0', private: true }),
      )
      const withTools = { ...env, PATH: process.env.PATH }
      execFileSync(
        process.execPath,
        [npmCli(), 'install', '--build-from-source', '--no-audit', '--no-fund', '--loglevel=error', tarball],
        {
          cwd: built,
          env: withTools,
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      )
      step('installed with --build-from-source')
      run(built, [process.execPath], { PATH: process.env.PATH, IPC_KIT_SMOKE_FROM: 'build' })
      step('smoke passed on the source build')
    }

    if (args.has('--arm64')) {
      const arm64Node = execFileSync(path.join(root, 'scripts/node-line.sh'), ['arm64', '24'], {
        encoding: 'utf8',
      }).trim()
      const qemu = execFileSync('sh', ['-c', 'command -v qemu-aarch64'], { encoding: 'utf8' }).trim()
      // glibc and libstdc++ for arm64 come with the cross toolchain (scripts/arm64-toolchain.sh).
      const node = [qemu, '-L', '/usr/aarch64-linux-gnu', arm64Node]
      run(project, node, { IPC_KIT_TEST_NODE: node.join(' ') })
      step('smoke passed on arm64 (qemu)')
    }
  } finally {
    if (args.has('--keep')) console.log(`pack-smoke: kept ${tmp}`)
    else fs.rmSync(tmp, { recursive: true, force: true })
  }
}

main()
