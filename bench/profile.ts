/**
 * A small script to profile treerpc's hot path with `node --cpu-prof`, and a summary of the profiles.
 *
 *   node --cpu-prof --cpu-prof-dir=prof dist/bench/profile.js run <channel> [calls] [mode] [raw]
 *       channel: worker | ipc-json | ipc-advanced | pool ; mode: inflight (default, 64 in flight) | sequential
 *       The main thread and (for worker channels) the worker thread each write a .cpuprofile. A forked
 *       child is profiled too: it inherits --cpu-prof through NODE_OPTIONS if you set it there.
 *   node dist/bench/profile.js summarize <file.cpuprofile> [top]
 *       Self time per function (name, file:line), highest first, and the share of the total.
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { RawIpc, RawWorker } from './contenders/raw.js'
import { TreerpcChild, TreerpcPool, TreerpcWorker } from './contenders/treerpc.js'
import type { Contender } from './contenders/types.js'
import { inFlight, now, sequential } from './harness.js'
import { SMALL } from './payloads.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  hitCount?: number
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

function summarize(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const byFunction = new Map<string, number>()
  let total = 0
  for (const [id, micros] of self) {
    const frame = byId.get(id)!.callFrame
    const where = frame.url === '' ? '' : ` ${frame.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist[^/]*)\//, '$1/')}:${frame.lineNumber + 1}`
    const key = `${frame.functionName || '(anonymous)'}${where}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros)
    total += micros
  }
  const rows = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)
  console.log(`${basename(file)}: ${(total / 1000).toFixed(0)} ms sampled`)
  for (const [key, micros] of rows) console.log(`${((micros / total) * 100).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}`)
}

async function run(channel: string, calls: number, mode: string): Promise<void> {
  const serialization = channel === 'ipc-json' ? 'json' : 'advanced'
  const contenders: Contender[] =
    channel === 'worker' ? [new TreerpcWorker()] : channel === 'pool' ? [new TreerpcPool(2)] : [new TreerpcChild(serialization)]
  // `raw` as a fifth argument: the raw limit of the same channel too, after (its samples then share the profile).
  if (process.argv[6] === 'raw') contenders.push(channel === 'worker' ? new RawWorker() : new RawIpc(serialization))
  for (const contender of contenders) {
    await contender.start()
    const start = now()
    if (mode === 'sequential') await sequential(() => contender.call(SMALL), calls)
    else await inFlight(() => contender.call(SMALL), calls, 64)
    const ms = now() - start
    console.log(`${contender.name}: ${calls} calls (${mode}) in ${ms.toFixed(0)} ms, ${((ms * 1000) / calls).toFixed(2)} µs/call`)
    await contender.stop()
  }
}

const [command, ...rest] = process.argv.slice(2)
if (command === 'summarize' && rest[0] !== undefined) {
  summarize(rest[0], Number(rest[1] ?? 25))
} else if (command === 'run') {
  await run(rest[0] ?? 'worker', Number(rest[1] ?? 300_000), rest[2] ?? 'inflight')
} else {
  console.log('usage: node --cpu-prof dist/bench/profile.js run <worker|ipc-json|ipc-advanced|pool> [calls] [inflight|sequential]\n       node dist/bench/profile.js summarize <file.cpuprofile> [top]')
}
