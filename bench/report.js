'use strict'
// The printed table, bench/RESULTS.md and bench/results.svg (a hand-written
// bar chart: no charting dependency).

function formatFigure(f) {
  if (!f) return 'n/a'
  const v = f.median
  if (f.unit === 'GB/s') return `${v.toFixed(v < 10 ? 2 : 1)} GB/s`
  if (f.unit === '%') return `${v.toFixed(2)}% CPU`
  if (f.unit === 'threads') return `${v.toFixed(0)} threads`
  const [scaled, unit] = v < 1e3 ? [v, 'ns'] : v < 1e6 ? [v / 1e3, 'µs'] : [v / 1e6, 'ms']
  return `${scaled < 10 ? scaled.toFixed(2) : scaled < 100 ? scaled.toFixed(1) : scaled.toFixed(0)} ${unit}`
}

function formatRatio(x) {
  if (x >= 100) return Math.round(x).toLocaleString('en-US')
  return x >= 10 ? x.toFixed(1) : x.toFixed(2)
}

/** "12.3× faster" or "2.10× slower", the way a reader compares the two. */
function formatSpeedup(s) {
  if (s === null) return 'n/a'
  return s >= 1 ? `${formatRatio(s)}× faster` : `${formatRatio(1 / s)}× slower`
}

function verdict(r) {
  if (!r.goal) return ''
  if (r.met === null) return 'not measured'
  return r.met ? 'met' : 'NOT met'
}

function tableRows(rows) {
  return rows.map((r) => [
    r.scenario,
    r.kitFigure ? formatFigure(r.kitFigure) : 'n/a',
    r.short,
    r.vsFigure ? formatFigure(r.vsFigure) : 'n/a',
    r.speedup === null ? `n/a (${r.missingWhy})` : formatSpeedup(r.speedup),
    r.goal ? r.goal.text : '',
    verdict(r),
  ])
}

const HEAD = ['scenario', 'ipc-kit', 'against', 'its figure', 'ipc-kit is', 'goal', '']

function renderTable(rows) {
  const body = tableRows(rows)
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)))
  const line = (cells) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd()
  return [line(HEAD), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n')
}

function markdownTable(head, body) {
  const esc = (s) => String(s).replace(/\|/g, '\\|')
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...body.map((row) => `| ${row.map(esc).join(' | ')} |`),
  ].join('\n')
}

/** The wait engine's rows (scenarios.js ENGINE): figure, goal or reference, verdict. */
function engineRows(engine, figures) {
  return engine.map((e) => {
    const f = figures[e.id]
    const ref = e.vs && figures[e.vs] ? { ...figures[e.vs], median: figures[e.vs].median * e.factor } : null
    let met = null
    if (f && e.goal?.max !== undefined) met = f.median <= e.goal.max
    if (f && ref && e.goal?.atLeast !== undefined) met = ref.median / f.median >= e.goal.atLeast
    const against = e.vs
      ? `${e.short}: ${ref ? formatFigure(ref) : 'n/a'}${f && ref ? ` (ipc-kit ${formatSpeedup(ref.median / f.median)})` : ''}`
      : ''
    return {
      ...e,
      met,
      cells: [
        e.what,
        `\`${e.id}\``,
        formatFigure(f),
        against,
        e.goal ? e.goal.text : '',
        verdict({ goal: e.goal, met }),
      ],
    }
  })
}

function renderEngine(engine, figures) {
  const rows = engineRows(engine, figures)
  return `## The wait engine

Async waits (Semaphore \`wait()\`, Mutex \`acquire()\`, Channel) are served by the engine's threads, each sleeping on the futex words of many objects at once (docs/design.md, "The wait engine"). A wake-up has no fixed goal; it is compared with one wake-up of C's sleeping futex ping-pong (half its round trip). Goals: ${rows.filter((r) => r.met === true).length} met, ${rows.filter((r) => r.met === false).length} not met.

${markdownTable(
  ['what', 'id', 'ipc-kit', 'compared with', 'goal', 'verdict'],
  rows.map((r) => r.cells),
)}
`
}

function renderResults({ meta, rows, figures, notes, labels, analysis, engine }) {
  const raw = Object.keys(labels)
    .filter((id) => figures[id])
    .map((id) => {
      const f = figures[id]
      const at = (v) => formatFigure({ ...f, median: v })
      // The best tenth: what the operation costs when the machine leaves it alone.
      const sorted = [...f.samples].sort((a, b) => (f.unit === 'GB/s' ? b - a : a - b))
      return [
        labels[id],
        `\`${id}\``,
        formatFigure(f),
        at(sorted[Math.floor((sorted.length - 1) / 10)]),
        `${at(f.min)} – ${at(f.max)}`,
        f.samples.length,
      ]
    })
  const missing = Object.entries(notes).map(([id, why]) => `- \`${id}\`: ${why}`)
  const met = rows.filter((r) => r.met === true).length
  const notMet = rows.filter((r) => r.met === false).length
  const unmeasured = rows.filter((r) => r.goal && r.met === null).length
  return `# ipc-kit benchmark results

Produced by \`${meta.command}\` on ${meta.date} (${meta.seconds} s)${meta.commit ? ` at commit ${meta.commit}` : ''}.

- Machine: ${meta.machine}
- ${meta.node}
- Each figure is the median of ${meta.reps} repetitions, each the mean over many operations (${meta.rounds > 1 ? `${meta.rounds} rounds over the whole list of jobs, ${meta.reps / meta.rounds} repetitions per job per round, each job in a process of its own after a warm-up` : 'each job in a process of its own, after a warm-up'}); the Buffer operations take many short samples instead. Every ratio compares figures from this same run.${meta.quick ? '\n- **Quick run**: fewer operations per repetition and 256 MiB instead of 1 GiB for the bulk transfers.' : ''}
- ${meta.load ? `Load average ${meta.load[0]} at the start of the run, ${meta.load[1]} at its end. ` : ''}This 2-vCPU machine is shared with other developers' work, so absolute figures are noisy (see the notes at the end); the ratios are what counts.

![ipc-kit speedup over each alternative](results.svg)

## ipc-kit against the alternatives

Goals: ${met} met, ${notMet} not met${unmeasured ? `, ${unmeasured} not measured` : ''}. "ipc-kit is N× faster/slower" compares ipc-kit's figure with the one in the same row (time per operation, or throughput for the bulk transfers).

${markdownTable(HEAD.slice(0, 6).concat(['verdict']), tableRows(rows))}

${engine ? renderEngine(engine, figures) : ''}
## Every figure

"best 10%": the figure that the best tenth of the samples reach (the 10th percentile of times, the 90th of throughputs), what an operation costs when the machine leaves it alone; the ratios above use the medians.

${markdownTable(['what', 'id', 'median', 'best 10%', 'range', 'samples'], raw)}
${missing.length ? `\nJobs that did not give figures in every round of this run:\n\n${missing.join('\n')}\n` : ''}
## How each scenario is measured

- **Lock pairs**: one process, one lock, acquire then release in a loop; no contention. proper-lockfile uses its defaults on a file in the temp dir; fs-ext takes \`flockSync(fd, 'ex')\` then \`'un'\` on an open file. The C pair is Drepper's futex mutex (no system call when uncontended).
- **Semaphore pairs**: \`tryWait\` + \`post\` on a semaphore of value 1; C does \`sem_trywait\` + \`sem_post\`, and \`semop\` −1 with \`IPC_NOWAIT\` then +1.
- **Contended counter**: N processes each increment a 4-byte counter under the lock (ipc-kit: \`g.withLockSync(() => { u32[0]++ })\` with \`u32\` a \`Uint32Array\` over \`g.buffer\`, as C does \`value++\` and the worker_threads peers \`w[1]++\`; the "Buffer methods" rows do \`g.withLockSync(buf => buf.writeUInt32LE(buf.readUInt32LE(0) + 1, 0))\` instead, whose two Buffer calls cost about 7 ns each on their own); the figure is wall time (first start to last end, CLOCK_MONOTONIC across processes) divided by all increments. The flock counter keeps the counter in the locked file (\`readSync\`/\`writeSync\` at offset 0), as a Node program without shared memory must. The worker_threads rows: threads of one process, Drepper's mutex written with \`Atomics\` on a SharedArrayBuffer. Every run checks the final count.
- **Ping-pong**: one round trip between two processes (worker_threads rows: two threads of one process). ipc-kit uses two POSIX semaphores; "sync" blocks in \`waitSync\` on both sides, "async" uses \`await wait()\` on both sides.
- **Wait engine** (\`kit.engine_*\`): POSIX semaphores each with one pending \`wait()\` in the measuring process. Idle CPU: \`process.cpuUsage()\` over ${meta.quick ? '1' : '3'} s windows while 1,000 waits are pending; threads: entries of \`/proc/self/task\` added by 1,000 waits; wake-up latency: a post from the same process to one of N waited semaphores (idle for 2 ms first) until its \`wait()\` resolves; close: \`close()\` of 5,000 semaphores and 5,000 Mutexes (held by another Mutex) with one pending wait each, until the last wait has rejected.
- **Bulk**: 1 GiB sent in 1 MiB chunks from one process to another. ipc-kit: an 8 × 1 MiB ring in one \`IPCBuffer.posix\` with two semaphores (free slots, full slots); the writer copies each chunk in, the reader copies it out into its own Buffer (as a socket delivers data into the reader's memory). Sockets and pipes: \`write\` with backpressure, the reader counts bytes. memcpy: one thread copying 1 GiB of distinct data (beyond every cache); "memcpy in cache" copies a 1 MiB chunk into an 8 MiB ring, the geometry of the ipc-kit ring.
- **Buffer operations**: the same loop on a 64 KiB plain Buffer, an \`IPCBuffer.posix\` and a shm-typed-array Buffer: one process per kind, the processes taking turns sample by sample (each sample 2–6 ms).
- **Cycle**: create a 4 KiB POSIX object, map it, unlink it, unmap and close it.
- **SharedMap** (\`kit.map_*\`): get and set over 10,000 keys (\`key:0\`...) in turn, of a 100-byte string and of a 4 KiB Buffer, in a 64 MiB \`SharedMap\`; the same against a plain \`Map\` (no copies: the ceiling), lmdb (\`noSync\`, no compression, string or binary encoding; set is \`putSync\`, a transaction each), Redis (Debian's \`redis-server\` started by the job on a Unix socket, no persistence, through ioredis, one \`await\` per operation) and a \`Map\` in another process reached with \`process.send\` (\`serialization: 'advanced'\`), the pattern of a cluster primary. Readers: 1 then 2 processes each getting 100-byte strings in turn; the figure is wall time over the gets of all readers.
- **Repetitions** of the loops are sized from the warm-up to last about ${meta.quick ? '15' : '150'} ms each, whatever the load.
${renderAnalysis(rows, analysis)}`
}

/**
 * bench/analysis.md is hand-written: an introduction, then one "### key: title"
 * section per reason. Each goal this run did not meet is listed with its
 * figures, followed by the section of its row's key.
 */
function renderAnalysis(rows, analysis) {
  const parts = analysis.split(/^### ([a-z0-9-]+): (.*)$/m)
  const intro = parts[0].trim()
  const sections = {}
  for (let i = 1; i < parts.length; i += 3)
    sections[parts[i]] = { title: parts[i + 1].trim(), text: parts[i + 2].trim() }
  const missed = rows.filter((r) => r.met === false)
  const out = []
  if (missed.length) {
    out.push('## Goals not met in this run, and why\n')
    for (const key of [...new Set(missed.map((r) => r.key))]) {
      const section = sections[key]
      out.push(`### ${section ? section.title : missed.find((r) => r.key === key).scenario}\n`)
      for (const r of missed.filter((m) => m.key === key)) {
        out.push(
          `- **${r.scenario}**: ipc-kit ${formatFigure(r.kitFigure)} against ${r.short} ${formatFigure(r.vsFigure)}: ipc-kit is ${formatSpeedup(r.speedup)}; the goal is ${r.goal.text}.`,
        )
      }
      out.push(`\n${section ? section.text : 'Not analysed yet.'}\n`)
    }
  }
  if (intro) out.push(`${intro}\n`)
  return out.length ? `\n${out.join('\n')}` : ''
}

/**
 * A horizontal bar per comparison, grouped by scenario: ipc-kit's speedup on a
 * log scale (right of 1× = ipc-kit faster), with the goal marked.
 */
function renderSvg(rows, meta) {
  const data = rows.filter((r) => r.speedup !== null)
  const missing = rows.filter((r) => r.speedup === null)
  const lines = [] // { head: scenario } or { row }
  for (const r of data) {
    if (!lines.length || lines[lines.length - 1].scenario !== r.scenario)
      lines.push({ head: r.scenario, scenario: r.scenario })
    lines.push({ row: r, scenario: r.scenario })
  }
  const rowH = 22
  const left = 230
  const plotW = 520
  const top = 78
  const plotH = lines.length * rowH
  const height = top + plotH + 36 + (missing.length ? 20 : 0)
  const width = left + plotW + 250
  const values = data.flatMap((r) => [r.speedup, r.goal ? r.goal.min : 1]).concat([1])
  const lo = Math.floor(Math.log10(Math.min(...values)))
  const hi = Math.ceil(Math.log10(Math.max(...values)))
  const x = (v) => left + ((Math.log10(v) - lo) / Math.max(hi - lo, 1)) * plotW
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  const out = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  )
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`)
  out.push(
    `<text x="12" y="22" font-size="16" font-weight="bold">How much faster ipc-kit is than each alternative</text>`,
  )
  out.push(
    `<text x="12" y="42" fill="#444">Log scale; right of 1× ipc-kit is faster, left of it slower. Green: goal met; red: goal not met; grey: no goal. The black tick is the goal.</text>`,
  )
  out.push(
    `<text x="12" y="60" fill="#777">${esc(`${meta.command} · ${meta.date} · ${meta.node.split(',')[0]} · ${meta.machine.split(';')[0]}`)}</text>`,
  )
  for (let e = lo; e <= hi; e++) {
    const gx = x(10 ** e).toFixed(1)
    const label = e >= 0 ? `${(10 ** e).toLocaleString('en-US')}×` : `${Number((10 ** e).toFixed(-e))}×`
    out.push(
      `<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${top + plotH}" stroke="${e === 0 ? '#333' : '#e2e2e2'}" stroke-width="${e === 0 ? 1.5 : 1}"/>`,
    )
    out.push(`<text x="${gx}" y="${top + plotH + 16}" text-anchor="middle" fill="#555">${label}</text>`)
  }
  lines.forEach((line, i) => {
    const y = top + i * rowH
    if (line.head) {
      out.push(`<text x="12" y="${y + 16}" font-weight="bold">${esc(line.head)}</text>`)
      return
    }
    const r = line.row
    const x1 = x(1)
    const x2 = x(r.speedup)
    const color = r.met === true ? '#2e9d4c' : r.met === false ? '#d0453a' : '#9aa0a6'
    out.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(`vs ${r.short}`)}</text>`)
    out.push(
      `<rect x="${Math.min(x1, x2).toFixed(1)}" y="${y + 4}" width="${Math.max(Math.abs(x2 - x1), 1.5).toFixed(1)}" height="${rowH - 8}" fill="${color}"/>`,
    )
    if (r.goal) {
      const gx = x(r.goal.min).toFixed(1)
      out.push(`<line x1="${gx}" y1="${y + 1}" x2="${gx}" y2="${y + rowH - 1}" stroke="#000" stroke-width="2"/>`)
    }
    const label = `${formatSpeedup(r.speedup)}${r.goal ? ` (goal ${r.goal.text})` : ''}`
    out.push(
      `<text x="${(Math.max(x1, x2, r.goal ? x(r.goal.min) : 0) + 6).toFixed(1)}" y="${y + 15}" fill="#222">${esc(label)}</text>`,
    )
  })
  if (missing.length) {
    const names = [...new Set(missing.map((r) => `${r.scenario} vs ${r.short}`))].join('; ')
    out.push(`<text x="12" y="${height - 10}" fill="#777">${esc(`Not measured in this run: ${names}`)}</text>`)
  }
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

module.exports = {
  engineRows,
  formatFigure,
  formatSpeedup,
  renderTable,
  renderResults,
  renderSvg,
}
