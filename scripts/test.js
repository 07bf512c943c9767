'use strict'
// npm test: brings the addon and dist/ up to date with their sources
// (scripts/build-if-changed.js), then runs the uvu suites of test/ in one
// process, in name order, the zz-* files (checks of the whole run, such as
// "nothing left behind") last and always.
//   npm test                      every test file
//   npm test -- mutex             the files whose name matches (a regular
//                                 expression, any case; several are or-ed)
//   npm test -- -t 'pid name'     the tests whose suite and title match, in every
//                                 file (or in the files named too)
//   npm test -- --bail            stop at the first failing suite
// With PREBUILDS_ONLY=1 nothing is built: the prebuild is what loads.
const fs = require('node:fs')
const path = require('node:path')
const { buildIfChanged } = require('./build-if-changed')

const TESTS = path.join(__dirname, '..', 'test')

function usage(message) {
  if (message) console.error(`test: ${message}`)
  console.error('usage: npm test -- [FILE-PATTERN...] [-t|--name TEST-PATTERN] [--bail]')
  process.exit(2)
}

function parseArgs(argv) {
  const files = []
  let name = null
  let bail = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '-t' || arg === '--name') {
      if (i + 1 >= argv.length) usage(`${arg} needs a pattern`)
      name = new RegExp(argv[++i], 'i')
    } else if (arg.startsWith('--name=')) name = new RegExp(arg.slice(7), 'i')
    else if (arg === '-b' || arg === '--bail') bail = true
    else if (arg === '-h' || arg === '--help') usage()
    else if (arg.startsWith('-')) usage(`unknown option ${arg}`)
    else files.push(new RegExp(arg, 'i'))
  }
  return { files, name, bail }
}

/** The test files to run, in order: those matching `patterns` (all when none), then zz-*. */
function selectFiles(patterns) {
  const all = fs
    .readdirSync(TESTS)
    .filter((f) => f.endsWith('.test.js'))
    .sort()
  const last = all.filter((f) => f.startsWith('zz-'))
  const chosen = all.filter((f) => !last.includes(f) && (patterns.length === 0 || patterns.some((p) => p.test(f))))
  if (chosen.length === 0) usage(`no test file matches ${patterns.join(' ')} (files: ${all.join(', ')})`)
  return [...chosen, ...last]
}

/**
 * Keeps only the tests whose "suite title" matches `name`: wraps uvu's suite()
 * and test so that test(), test.only() and test.skip() of other titles
 * register nothing, while `state.on`. Counts the tests kept in `state.kept`.
 */
function filterByName(uvu, name, state) {
  const filter = (t, suiteName) => {
    const keep = (title) => {
      if (state.on && !name.test(suiteName ? `${suiteName} ${title}` : String(title))) return false
      if (state.on) state.kept++
      return true
    }
    const wrapped = (title, fn) => keep(title) && t(title, fn)
    Object.assign(wrapped, t)
    wrapped.only = (title, fn) => keep(title) && t.only(title, fn)
    wrapped.skip = (title, fn) => keep(title) && (t.skip(title, fn), true) // false: not selected
    return wrapped
  }
  const suite = uvu.suite
  uvu.suite = (suiteName, ctx) => filter(suite(suiteName, ctx), suiteName)
  uvu.test = filter(uvu.test, '')
}

async function main() {
  const { files, name, bail } = parseArgs(process.argv.slice(2))
  const selected = selectFiles(files)
  buildIfChanged()
  // What uvu's own runner (uvu/run, behind its CLI) does: each file queues its
  // suites under its name, then uvu runs the queue in order and prints the totals.
  globalThis.UVU_DEFER = 1
  const uvu = require('uvu')
  const state = { on: false, kept: 0 }
  if (name) filterByName(uvu, name, state)
  selected.forEach((file, index) => {
    state.on = Boolean(name) && !file.startsWith('zz-') // the whole-run checks always run
    globalThis.UVU_QUEUE.push([file])
    globalThis.UVU_INDEX = index
    const before = state.kept
    require(path.join(TESTS, file))
    if (state.on && state.kept === before) globalThis.UVU_QUEUE[index] = [] // nothing to show for it
  })
  state.on = false
  if (name && state.kept === 0) usage(`no test title matches ${name}`)
  await uvu.exec(bail)
}

main().catch((err) => {
  console.error(err.stack || err.message)
  process.exit(1)
})
