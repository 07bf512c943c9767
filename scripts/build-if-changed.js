'use strict'
// Brings the addon and dist/ up to date with their sources, so a test or a
// bench runs the code as it is now, at no cost when nothing changed:
// - the addon (build/Release/ipc_kit.node) is rebuilt when it is missing or
//   binding.gyp or anything in native/ is newer; make recompiles only what
//   changed. Never with PREBUILDS_ONLY=1: that run tests the prebuild.
// - the TypeScript is recompiled (tsc --incremental) when lib/ or tsconfig.json
//   is newer than the last compile.
// Dates are modification times; a folder's own counts too, so a file removed
// or renamed is a change.
// Usage: node scripts/build-if-changed.js   (npm test and npm run bench call it)
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const ADDON = path.join(root, 'build/Release/ipc_kit.node')
// The compile record of tsc --incremental, kept out of dist/ (which is published).
const TS_INFO = path.join(root, 'node_modules/.cache/ipc-kit/tsbuildinfo')

/** The newest modification time (ms) among `paths`, folders walked; 0 for none. */
function newest(paths) {
  let max = 0
  for (const p of paths) {
    let stat
    try {
      stat = fs.statSync(p)
    } catch {
      continue
    }
    max = Math.max(max, stat.mtimeMs)
    if (stat.isDirectory()) max = Math.max(max, newest(fs.readdirSync(p).map((f) => path.join(p, f))))
  }
  return max
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs
  } catch {
    return 0
  }
}

function run(args, what) {
  console.log(`build-if-changed: ${what}`)
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.status !== 0)
    throw new Error(`build-if-changed: ${what} failed (${r.error ? r.error.message : `exit ${r.status}`})`)
}

// The headers node-gyp configures with, rather than a download: those npm
// names (npm_config_nodedir), else those installed beside the running Node or
// beside the first node on PATH (the addon uses Node-API only: any will do).
function nodedir() {
  if (process.env.npm_config_nodedir) return []
  const nodes = [process.execPath, ...(process.env.PATH || '').split(':').map((dir) => path.join(dir, 'node'))]
  const prefix = nodes
    .map((node) => path.resolve(node, '../..'))
    .find((dir) => fs.existsSync(path.join(dir, 'include/node/node_api.h')))
  return prefix ? [`--nodedir=${prefix}`] : []
}

function addon() {
  if (process.env.PREBUILDS_ONLY) return
  const built = mtime(ADDON)
  const sources = newest([path.join(root, 'binding.gyp'), path.join(root, 'native')])
  if (built && sources <= built) return
  const gyp = require.resolve('node-gyp/bin/node-gyp.js')
  if (mtime(path.join(root, 'binding.gyp')) > mtime(path.join(root, 'build/Makefile'))) {
    run([gyp, 'configure', ...nodedir()], 'binding.gyp changed: node-gyp configure')
  }
  run([gyp, 'build'], built ? 'native/ changed: rebuilding the addon' : 'no addon built yet: building it')
  // make leaves the file alone when no source really changed (a folder's date
  // moved): mark it current so the next run does not try again.
  const now = new Date()
  fs.utimesSync(ADDON, now, now)
}

function typescript() {
  const emitted = fs.existsSync(path.join(root, 'dist/index.js'))
  // Before the first incremental compile (npm install ran a plain tsc), dist/ itself tells.
  const compiled = fs.existsSync(TS_INFO) ? mtime(TS_INFO) : newest([path.join(root, 'dist')])
  if (emitted && newest([path.join(root, 'lib'), path.join(root, 'tsconfig.json')]) <= compiled) return
  // tsc --incremental trusts its record and emits nothing for files it thinks
  // unchanged, even when their output was deleted.
  if (!emitted) fs.rmSync(TS_INFO, { force: true })
  fs.mkdirSync(path.dirname(TS_INFO), { recursive: true })
  const tsc = require.resolve('typescript/bin/tsc')
  run(
    [tsc, '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', TS_INFO],
    'lib/ changed: compiling the TypeScript',
  )
  // tsc rewrites neither its record nor outputs whose content is the same.
  const now = new Date()
  fs.utimesSync(TS_INFO, now, now)
}

function buildIfChanged() {
  addon()
  typescript()
}

module.exports = { buildIfChanged }

if (require.main === module) {
  try {
    buildIfChanged()
  } catch (err) {
    console.error(err.message)
    process.exit(1)
  }
}
