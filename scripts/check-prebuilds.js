'use strict'
// Checks prebuilds/linux-<arch>/: exactly one .node, an ELF shared object for
// that machine, with no symbol table (stripped). Usage: node check-prebuilds.js x64 arm64
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const MACHINE = { x64: 0x3e, arm64: 0xb7 } // ELF e_machine: EM_X86_64, EM_AARCH64
const archs = process.argv.slice(2)
let failed = false

for (const arch of archs.length ? archs : Object.keys(MACHINE)) {
  const dir = path.join(__dirname, '..', 'prebuilds', `linux-${arch}`)
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : []
  if (files.length !== 1) {
    console.error(`check-prebuilds: expected one .node in ${dir}, found ${files.length}`)
    failed = true
    continue
  }
  const file = path.join(dir, files[0])
  const elf = fs.readFileSync(file)
  const problems = []
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1)
    problems.push('not a 64-bit little-endian ELF')
  else {
    if (elf.readUInt16LE(16) !== 3) problems.push('not a shared object')
    if (elf.readUInt16LE(18) !== MACHINE[arch])
      problems.push(`machine 0x${elf.readUInt16LE(18).toString(16)}, not ${arch}`)
    if (sectionNames(elf).includes('.symtab')) problems.push('not stripped (.symtab present)')
  }
  if (problems.length) {
    console.error(`check-prebuilds: ${file}: ${problems.join(', ')}`)
    failed = true
  } else {
    console.log(`${path.relative(process.cwd(), file)}  ${arch}  ${elf.length} bytes${glibcFloor(file)}`)
  }
}
process.exitCode = failed ? 1 : 0

/** The newest glibc symbol version the binary needs: the oldest glibc it loads on. */
function glibcFloor(file) {
  const r = spawnSync('objdump', ['-T', file], { encoding: 'utf8' })
  const versions = (r.stdout || '').match(/GLIBC_[0-9.]+/g)
  if (!versions) return ''
  const newest = versions
    .map((v) => v.slice(6).split('.').map(Number))
    .sort((a, b) => a[0] - b[0] || (a[1] || 0) - (b[1] || 0) || (a[2] || 0) - (b[2] || 0))
    .pop()
  return `  needs glibc >= ${newest.join('.')}`
}

/** Section names of a 64-bit little-endian ELF file. */
function sectionNames(elf) {
  const shoff = Number(elf.readBigUInt64LE(0x28))
  const shentsize = elf.readUInt16LE(0x3a)
  const shnum = elf.readUInt16LE(0x3c)
  const strtab = shoff + elf.readUInt16LE(0x3e) * shentsize
  const strOffset = Number(elf.readBigUInt64LE(strtab + 0x18))
  const names = []
  for (let i = 0; i < shnum; i++) {
    const nameAt = strOffset + elf.readUInt32LE(shoff + i * shentsize)
    names.push(elf.toString('latin1', nameAt, elf.indexOf(0, nameAt)))
  }
  return names
}
