'use strict'
// npm run format: rewrites the sources in the project's style.
// npm run lint: changes nothing; lists the files that differ and fails if any.
// TypeScript and JavaScript go through prettier (.prettierrc.json), C++
// through clang-format (.clang-format): the binary npm's clang-format package
// ships, else (a platform it ships none for) the system's clang-format.
// Usage: node scripts/format.js [--check] [FILE...]   (default: every source)
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const JS_DIRS = ['lib', 'esm', 'test', 'scripts', 'bench', 'examples']
const JS = /\.(ts|js|mjs|cjs)$/
const CPP_DIRS = ['native']
const CPP = /\.(cc|h)$/
const SKIP = new Set(['node_modules', '.build'])

/** Files under `dirs` (relative to the package) whose name matches `pattern`, sorted. */
function sources(dirs, pattern) {
  const found = []
  const walk = (dir) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name)
      if (entry.isDirectory()) {
        if (!SKIP.has(entry.name)) walk(rel)
      } else if (pattern.test(entry.name)) found.push(rel)
    }
  }
  for (const dir of dirs) if (fs.existsSync(path.join(root, dir))) walk(dir)
  return found.sort()
}

function clangFormatBinary() {
  try {
    return require('clang-format').getNativeBinary()
  } catch {
    return 'clang-format'
  }
}

/** Runs prettier on `files`; true when they are (or now are) formatted. */
function prettier(files, check) {
  if (files.length === 0) return true
  const cli = require.resolve('prettier/bin/prettier.cjs')
  const r = spawnSync(process.execPath, [cli, check ? '--check' : '--write', '--log-level', 'warn', ...files], {
    cwd: root,
    stdio: 'inherit',
  })
  return r.status === 0
}

/** Runs clang-format on `files`; true when they are (or now are) formatted. */
function clangFormat(files, check) {
  const bin = clangFormatBinary()
  let ok = true
  for (const file of files) {
    const r = spawnSync(bin, ['--style=file', ...(check ? [] : ['-i']), file], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    })
    if (r.error) throw new Error(`format: cannot run ${bin}: ${r.error.message} (install clang-format)`)
    if (r.status !== 0) {
      process.stderr.write(r.stderr)
      ok = false
    } else if (check && r.stdout !== fs.readFileSync(path.join(root, file), 'utf8')) {
      console.log(`[warn] ${file}`)
      ok = false
    }
  }
  return ok
}

function main() {
  const args = process.argv.slice(2)
  const check = args.includes('--check')
  const given = args.filter((a) => !a.startsWith('--'))
  const js = given.length ? given.filter((f) => JS.test(f)) : sources(JS_DIRS, JS)
  const cpp = given.length ? given.filter((f) => CPP.test(f)) : sources(CPP_DIRS, CPP)
  const jsOk = prettier(js, check)
  const cppOk = clangFormat(cpp, check) // both run, so one report lists every file
  const ok = jsOk && cppOk
  if (check) {
    console.log(
      ok
        ? `lint: ${js.length + cpp.length} files formatted`
        : 'lint: the files above differ from the style: npm run format rewrites them',
    )
  }
  process.exitCode = ok ? 0 : 1
}

main()
