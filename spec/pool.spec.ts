/**
 * Integration specs of createPool over real worker threads and child processes, with the
 * spec/fixtures/pool-member fixture. Calls are held open with gate files (a handler runs until its
 * gate file exists), so nothing depends on how long anything takes; waits poll `pool.stats` or
 * await events. Every test ends with its pools closed and its gate and marker files removed.
 * Crash loops use small option values and real time; scripts that await a pool call at top level
 * run in a real `node` process (spec/fixtures/pool-top-level-await).
 */
import { expect } from 'chai'
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  BusyError,
  CancelledError,
  ChannelClosedError,
  createPool,
  RemoteError,
  RpcError,
  TimeoutError,
  type Pool,
  type PoolMember,
  type PoolOptions,
} from '../lib/index.js'
import type { Identity, PoolMemberApi } from './fixtures/pool-member.js'
import { deferred, rejection, tick } from './helpers.js'

const MEMBER = new URL('./fixtures/pool-member.js', import.meta.url)
const DIES_AT_START = new URL('./fixtures/pool-dies-at-start.js', import.meta.url)
const DIES_SOON = new URL('./fixtures/pool-dies-soon.js', import.meta.url)
const TOP_LEVEL_AWAIT = fileURLToPath(new URL('./fixtures/pool-top-level-await.js', import.meta.url))

/** What a script run with `node` did: how it ended, and the JSON lines it printed. */
interface ScriptRun {
  code: number | null
  signal: string | null
  printed: Record<string, unknown>[]
  stderr: string
}

/** Runs the pool-top-level-await script in its own `node` process; killed (and so failing) if it outlives `limit` ms. */
function runScript(args: string[], env: Record<string, string> = {}, limit = 8000): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--unhandled-rejections=strict', TOP_LEVEL_AWAIT, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), limit)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const printed = stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>)
      resolve({ code, signal, printed, stderr })
    })
  })
}

/** What watchMembers saw: when each member id was first and last seen, and how many looks found no member at all. */
interface MemberWatch {
  seen: Map<number, { first: number; last: number }>
  empty: number
  /** Stops watching, after one last look. */
  stop: () => void
}

/**
 * Records when each member id appears in and disappears from `pool.members` (polled every 5 ms), to
 * measure the back-off between a member's death and its replacement's start.
 */
function watchMembers(pool: Pool<any>): MemberWatch {
  const watch: MemberWatch = { seen: new Map(), empty: 0, stop: () => {} }
  const look = (): void => {
    const now = performance.now()
    if (pool.members.length === 0) watch.empty++
    for (const { id } of pool.members) {
      const entry = watch.seen.get(id)
      if (entry === undefined) watch.seen.set(id, { first: now, last: now })
      else entry.last = now
    }
  }
  look()
  const timer = setInterval(look, 5)
  watch.stop = () => {
    clearInterval(timer)
    look()
  }
  return watch
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `condition` until it holds; fails (naming `what`) if it never does. A safety net, not a timing assertion. */
async function until(what: string, condition: () => boolean, limit = 10_000): Promise<void> {
  const deadline = Date.now() + limit
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await sleep(10)
  }
}

let files: string[] = []

/** A fresh path in the temp directory (a gate or marker file), removed after the test. */
function tempPath(label: string): string {
  const path = join(tmpdir(), `treerpc-pool-${label}-${process.pid}-${randomUUID()}`)
  files.push(path)
  return path
}

/** Opens a gate: every `hold(gate)` call returns. */
function open(gate: string): void {
  writeFileSync(gate, '')
}

for (const kind of ['worker', 'process'] as const) {
  /** Tests that run for worker pools only (the essential ones run for both kinds). */
  const workerOnly = (title: string, fn: () => Promise<void>): void => {
    if (kind === 'worker') it(title, fn)
  }

  /** The member's own id as the pool reports it: threadId for a worker, pid for a process. */
  const keyOf = (member: PoolMember | Identity): number | undefined => (kind === 'worker' ? member.threadId : member.pid)

  describe(`pools of kind '${kind}' (createPool)`, function () {
    let pools: Pool<any>[] = []

    function start(options: PoolOptions = {}, module: URL = MEMBER): Pool<PoolMemberApi> {
      const pool = createPool<PoolMemberApi>(module, { kind, closeTimeout: 3000, ...options })
      pools.push(pool)
      return pool
    }

    afterEach(async () => {
      // Let every held call finish, then close every pool (close() waits for every member to exit).
      for (const path of files) if (!existsSync(path)) writeFileSync(path, '')
      const running = pools
      pools = []
      await Promise.all(running.map((pool) => pool.close()))
      for (const path of files) rmSync(path, { force: true })
      files = []
    })

    // ---- dispatch ------------------------------------------------------------------------------

    it('sends two concurrent slow calls to different members (concurrency 1, 2 members)', async () => {
      const pool = start({ size: 2, concurrency: 1 })
      await pool.ready
      const gate = tempPath('gate')
      const calls = [pool.remote.hold(gate), pool.remote.hold(gate)]
      await until('both calls to run', () => pool.stats.inFlight === 2)
      expect(pool.stats.queued).to.equal(0)
      open(gate)
      const [a, b] = await Promise.all(calls)
      expect(keyOf(a!)).to.not.equal(keyOf(b!))
      const keys = pool.members.map(keyOf)
      expect(keys).to.include(keyOf(a!))
      expect(keys).to.include(keyOf(b!))
    })

    it('picks the least busy member (concurrency 2, 2 members): the second slow call goes to the idle member', async () => {
      const pool = start({ size: 2, concurrency: 2 })
      await pool.ready
      const gate = tempPath('gate')
      // Each member can take both calls; least-busy dispatch must still spread them, then the next two.
      const calls = Array.from({ length: 4 }, () => pool.remote.hold(gate))
      await until('four calls to run', () => pool.stats.inFlight === 4)
      expect(pool.stats.queued).to.equal(0)
      open(gate)
      const results = await Promise.all(calls)
      expect(keyOf(results[0]!)).to.not.equal(keyOf(results[1]!))
      const perMember = new Map<number | undefined, number>()
      for (const result of results) perMember.set(keyOf(result), (perMember.get(keyOf(result)) ?? 0) + 1)
      expect([...perMember.values()]).to.deep.equal([2, 2])
    })

    it('queues calls when every member is at its concurrency, then runs them all', async () => {
      const pool = start({ size: 2, concurrency: 1 })
      await pool.ready
      const gate = tempPath('gate')
      const calls = Array.from({ length: 5 }, () => pool.remote.hold(gate))
      await until('two calls to run', () => pool.stats.inFlight === 2)
      expect(pool.stats.queued).to.equal(3)
      open(gate)
      const results = await Promise.all(calls)
      expect(results).to.have.length(5)
      expect(pool.stats).to.include({ inFlight: 0, queued: 0, completed: 5, failed: 0 })
    })

    it('rejects with BusyError (RPC_BUSY) past maxQueue, and runs the calls it accepted', async () => {
      const pool = start({ size: 1, concurrency: 1, maxQueue: 2 })
      await pool.ready
      const gate = tempPath('gate')
      const accepted = [pool.remote.hold(gate), pool.remote.hold(gate), pool.remote.hold(gate)]
      expect(pool.stats.queued).to.equal(2)
      const error = await rejection(pool.call('hold', [gate]))
      expect(error).to.be.instanceOf(BusyError)
      expect(error.code).to.equal('RPC_BUSY')
      expect(pool.stats.queued).to.equal(2)
      open(gate)
      expect(await Promise.all(accepted)).to.have.length(3)
      expect(pool.stats).to.include({ completed: 3, failed: 1, queued: 0, inFlight: 0 })
    })

    // ---- members dying -------------------------------------------------------------------------

    it('rejects a call whose member dies mid-call with ChannelClosedError, and replaces the member', async () => {
      const pool = start({ size: 2 })
      await pool.ready
      const before = pool.members
      const error = await rejection(pool.remote.exit(3))
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect(error.code).to.equal('RPC_CHANNEL_CLOSED')
      await until('the dead member to be replaced', () => pool.stats.restarts === 1 && pool.members.length === 2)
      const after = pool.members
      const gone = before.filter((member) => !after.some((m) => m.id === member.id))
      const added = after.filter((member) => !before.some((m) => m.id === member.id))
      expect(gone).to.have.length(1)
      expect(added).to.have.length(1)
      expect(added[0]!.id).to.be.greaterThan(Math.max(...before.map((m) => m.id)))
      expect(keyOf(added[0]!)).to.be.a('number')
      // Calls keep working, on every member, the new one included.
      const everyone = await pool.broadcast<Identity>('whoami')
      expect(everyone.map((r) => r.status)).to.deep.equal(['fulfilled', 'fulfilled'])
      expect(everyone.map((r) => keyOf((r as PromiseFulfilledResult<Identity>).value))).to.deep.equal(after.map(keyOf))
      expect(keyOf(await pool.remote.whoami())).to.be.oneOf(after.map(keyOf))
      expect(pool.stats.members).to.equal(2)
    })

    it('does not retry a call that is not marked idempotent when its member dies', async () => {
      const pool = start({ size: 2 })
      await pool.ready
      const marker = tempPath('marker')
      const error = await rejection(pool.remote.flaky.once(marker))
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect(existsSync(marker)).to.equal(true)
      await until('the dead member to be replaced', () => pool.stats.restarts === 1 && pool.members.length === 2)
      // Nobody ran it again (the broadcast also waits for the replacement to finish starting).
      const counts = await pool.broadcast<Record<string, number>>('counts')
      expect(counts.map((r) => (r as PromiseFulfilledResult<Record<string, number>>).value['flaky.once'] ?? 0)).to.deep.equal([0, 0])
    })

    it('retries a call marked idempotent (per call) once on another member when its member dies', async () => {
      const pool = start({ size: 2 })
      await pool.ready
      const before = pool.members
      const marker = tempPath('marker')
      const call = pool.call<Identity>('flaky.once', [marker], { idempotent: true })
      const result = await call
      expect(call.state).to.equal('fulfilled')
      expect(existsSync(marker)).to.equal(true)
      await until('the dead member to be replaced', () => pool.stats.restarts === 1 && pool.members.length === 2)
      const dead = before.filter((member) => !pool.members.some((m) => m.id === member.id))
      expect(dead).to.have.length(1)
      expect(keyOf(result)).to.not.equal(keyOf(dead[0]!))
      expect(pool.stats).to.include({ completed: 1, failed: 0 })
      // The replacement answers too (and so has finished starting before the pool closes).
      expect((await pool.broadcast('whoami')).map((r) => r.status)).to.deep.equal(['fulfilled', 'fulfilled'])
    })

    workerOnly('retries calls to a path listed in options.idempotent once on another member when its member dies', async () => {
      const pool = start({ size: 2, idempotent: ['flaky.once'] })
      await pool.ready
      const marker = tempPath('marker')
      const result = await pool.remote.flaky.once(marker)
      expect(keyOf(result)).to.be.a('number')
      expect(existsSync(marker)).to.equal(true)
      await until('the dead member to be replaced', () => pool.stats.restarts === 1 && pool.members.length === 2)
      expect(pool.stats).to.include({ completed: 1, failed: 0 })
      expect((await pool.broadcast('whoami')).map((r) => r.status)).to.deep.equal(['fulfilled', 'fulfilled'])
    })

    workerOnly('retries an idempotent call on the replacement when the pool has a single member', async () => {
      const pool = start({ size: 1 })
      await pool.ready
      const [first] = pool.members
      const marker = tempPath('marker')
      const result = await pool.call<Identity>('flaky.once', [marker], { idempotent: true })
      expect(keyOf(result)).to.not.equal(keyOf(first!))
      expect(pool.members.map((m) => m.id)).to.not.include(first!.id)
      expect(pool.stats.restarts).to.equal(1)
    })

    workerOnly('does not retry an idempotent call that fails with a remote error', async () => {
      const pool = start({ size: 2, idempotent: ['flaky.fail'] })
      await pool.ready
      const error = await rejection(pool.call('flaky.fail', [], { idempotent: true }))
      expect(error).to.be.instanceOf(RemoteError)
      expect(error.name).to.equal('RangeError')
      expect(error.message).to.equal('flaky failure')
      await tick()
      const counts = await pool.broadcast<Record<string, number>>('counts')
      const ran = counts.reduce((total, r) => total + ((r as PromiseFulfilledResult<Record<string, number>>).value['flaky.fail'] ?? 0), 0)
      expect(ran).to.equal(1)
      expect(pool.stats).to.include({ restarts: 0, failed: 1 })
    })

    workerOnly('does not retry an idempotent call that times out', async () => {
      const pool = start({ size: 2 })
      await pool.ready
      const gate = tempPath('gate')
      const error = await rejection(pool.call('hold', [gate], { idempotent: true, timeout: 100 }))
      expect(error).to.be.instanceOf(TimeoutError)
      await until('the member handler to be aborted', () => pool.stats.inFlight === 0)
      await tick()
      const counts = await pool.broadcast<Record<string, number>>('counts')
      const ran = counts.reduce((total, r) => total + ((r as PromiseFulfilledResult<Record<string, number>>).value.hold ?? 0), 0)
      expect(ran).to.equal(1)
      expect(pool.stats).to.include({ restarts: 0, queued: 0, completed: 0 })
    })

    it('stops restarting a module that dies at start-up: ready rejects, queued calls reject with ChannelClosedError', async () => {
      const maxStartFailures = 2
      const pool = start({ size: 1, maxStartFailures }, DIES_AT_START)
      const queued = pool.call('never')
      const readyError = await rejection(pool.ready)
      expect(readyError).to.be.instanceOf(ChannelClosedError)
      const error = await rejection(queued)
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect(pool.stats.members).to.equal(0)
      const restarts = pool.stats.restarts
      // The restarts stay stopped (for longer than any back-off so far).
      await sleep(500)
      expect(pool.stats).to.include({ restarts, members: 0 })
      // A call now has no member to run on: it must not wait for its timeout.
      const late = await rejection(pool.call('never', [], { timeout: 5000 }))
      expect(late).to.be.instanceOf(ChannelClosedError)
      // maxStartFailures (2) deaths in a row at start-up stop the restarts: one start, one restart.
      expect(restarts, 'restarts before giving up').to.equal(maxStartFailures - 1)
    })

    it('stops a crash loop: members dying 20 ms after their handshake restart after growing delays, maxStartFailures times in all, then the pool emits one error and every call settles', async () => {
      const maxStartFailures = 3
      // Default minUptime (5000 ms): a member that dies 20 ms after its handshake failed to start.
      const pool = start({ size: 1, concurrency: 1, maxStartFailures }, DIES_SOON)
      const ups: PoolMember[] = []
      pool.on('up', (member: PoolMember) => ups.push(member))
      const errors: { member: PoolMember; error: Error }[] = []
      const gaveUp = deferred()
      pool.on('error', (member, error) => {
        errors.push({ member, error })
        gaveUp.resolve()
      })
      const watch = watchMembers(pool)
      // Each member takes one call (concurrency 1) and dies under it; the calls still queued when the
      // pool gives up reject with its error.
      const settled = Promise.allSettled(Array.from({ length: 5 }, () => pool.call('never')))
      try {
        await pool.ready
        await gaveUp.promise
      } finally {
        watch.stop()
      }
      const outcomes = await settled
      expect(outcomes.map((o) => o.status)).to.deep.equal(['rejected', 'rejected', 'rejected', 'rejected', 'rejected'])
      const reasons = outcomes.map((o) => (o as PromiseRejectedResult).reason as ChannelClosedError)
      for (const reason of reasons) expect(reason).to.be.instanceOf(ChannelClosedError)
      // The three that ran died with their members; the two left queued got the pool's reason.
      for (const reason of reasons.slice(0, 3)) expect(reason.exitCode).to.equal(5)
      for (const reason of reasons.slice(3)) expect(reason.message).to.match(/^Pool stopped starting members: 3 members in a row/)

      // Bounded: maxStartFailures members in all, each of which did complete its handshake.
      expect(pool.stats).to.include({ restarts: maxStartFailures - 1, members: 0, queued: 0, inFlight: 0 })
      expect(ups.map((m) => m.id)).to.deep.equal([1, 2, 3])
      // The delays grow: ~100 ms before the first replacement, ~200 ms before the second.
      const at = (id: number): { first: number; last: number } => watch.seen.get(id)!
      const delays = [at(2).first - at(1).last, at(3).first - at(2).last]
      expect(delays[0], `delays ${delays.map(Math.round).join(', ')} ms`).to.be.greaterThan(80)
      expect(delays[1], `delays ${delays.map(Math.round).join(', ')} ms`).to.be.greaterThan(delays[0]! + 50)

      // One error event, coded, saying how many died, how soon, and how the last one ended.
      expect(errors).to.have.length(1)
      const { member, error } = errors[0]!
      expect(member.id).to.equal(3)
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect((error as ChannelClosedError).code).to.equal('RPC_CHANNEL_CLOSED')
      expect((error as ChannelClosedError).exitCode).to.equal(5)
      expect(error.message).to.match(
        /^Pool stopped starting members: 3 members in a row \(maxStartFailures\) died before their handshake or less than 5000 ms \(minUptime\) after it; the last, member 3, died \d+ ms after its handshake \(exit code 5\)$/,
      )

      // A new call fails at once, with the same reason. (That the restarts stay stopped is pinned by
      // the dies-at-start spec above, on the same path.)
      const late = await rejection(pool.call('never', [], { timeout: 5000 }))
      expect(late).to.be.instanceOf(ChannelClosedError)
      expect(late.message).to.equal(error.message)
    })

    workerOnly('does not count a member that stays up minUptime as a failed start: it is replaced at once, however often', async () => {
      // Members live 100 ms after their handshake, longer than minUptime (20 ms): even with
      // maxStartFailures 1, their deaths are not failed starts and never stop the restarts.
      const pool = start({ size: 1, maxStartFailures: 1, minUptime: 20, spawn: { env: { ...process.env, TREERPC_DIE_AFTER: '100' } } }, DIES_SOON)
      const errors: Error[] = []
      pool.on('error', (_member, error) => errors.push(error))
      const watch = watchMembers(pool)
      try {
        await until('two replacements', () => pool.stats.restarts >= 2)
      } finally {
        watch.stop()
      }
      expect(errors).to.deep.equal([])
      expect([...watch.seen.keys()].slice(0, 3)).to.deep.equal([1, 2, 3])
      // Each replacement started in the same turn as the death (no back-off: the failed starts in a
      // row stayed at 0), so no look ever found the pool without a member.
      expect(watch.empty).to.equal(0)
    })

    it('keeps a script awaiting a pool call at top level alive while its only member dies at start-up: the call rejects with the coded error (exit code 0, not 13)', async () => {
      const run = await runScript([kind, 'gives-up'])
      expect(run.stderr).to.equal('')
      expect({ code: run.code, signal: run.signal }).to.deep.equal({ code: 0, signal: null })
      expect(run.printed).to.have.length(1)
      expect(run.printed[0]).to.include({ outcome: 'rejected', name: 'ChannelClosedError', code: 'RPC_CHANNEL_CLOSED', restarts: 2 })
      expect(run.printed[0]!.message).to.match(/^Pool stopped starting members: 3 members in a row .*died before its handshake, \d+ ms after it was started \(exit code 7\)$/)
    })

    workerOnly('keeps a script awaiting a pool call at top level alive through the back-off: the call runs once a member starts', async () => {
      const marker = tempPath('first-start')
      const run = await runScript([kind, 'recovers'], { TREERPC_MARKER: marker })
      expect(run.stderr).to.equal('')
      expect({ code: run.code, signal: run.signal }).to.deep.equal({ code: 0, signal: null })
      expect(run.printed).to.deep.equal([{ outcome: 'resolved', value: 'hello pool', restarts: 1 }])
      expect(existsSync(marker)).to.equal(true)
    })

    workerOnly('does not hold the process during the restart back-off when no call waits', async () => {
      // maxStartFailures is Infinity there: only an unref'd back-off lets the script end.
      const run = await runScript([kind, 'idle'])
      expect(run.stderr).to.equal('')
      expect({ code: run.code, signal: run.signal }).to.deep.equal({ code: 0, signal: null })
      expect(run.printed).to.deep.equal([{ outcome: 'exited', restarts: 0 }])
    })

    // ---- broadcast and events ------------------------------------------------------------------

    it('broadcasts to every live member and resolves to settled results in member order', async () => {
      const pool = start({ size: 3 })
      await pool.ready
      const members = pool.members
      expect(members.map((m) => m.id)).to.deep.equal([1, 2, 3])
      const results = await pool.broadcast<Identity>('whoami')
      expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'fulfilled', 'fulfilled'])
      expect(results.map((r) => keyOf((r as PromiseFulfilledResult<Identity>).value))).to.deep.equal(members.map(keyOf))
      // One member throws: its slot is a rejection, the others still fulfil, in order.
      const who = kind === 'worker' ? { threadId: members[1]!.threadId } : { pid: members[1]!.pid }
      const mixed = await pool.broadcast<Identity>('failIf', who)
      expect(mixed.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled'])
      const reason = (mixed[1] as PromiseRejectedResult).reason
      expect(reason).to.be.instanceOf(RemoteError)
      expect(reason.message).to.contain('refuses')
      expect(keyOf((mixed[2] as PromiseFulfilledResult<Identity>).value)).to.equal(keyOf(members[2]!))
    })

    it('delivers events from members to pool.on with the sending member', async () => {
      const pool = start({ size: 2 })
      const seen: { member: PoolMember; tag: string; from: Identity }[] = []
      const both = deferred()
      const off = pool.on('hello', (member: PoolMember, tag: string, from: Identity) => {
        seen.push({ member, tag, from })
        if (seen.length === 2) both.resolve()
      })
      await pool.ready
      await pool.broadcast('hello', 'hi')
      await both.promise
      off()
      const ids = pool.members.map((m) => m.id)
      expect(seen.map((s) => s.member.id).sort()).to.deep.equal(ids.slice().sort())
      for (const { member, tag, from } of seen) {
        expect(tag).to.equal('hi')
        expect(keyOf(member)).to.be.a('number')
        expect(keyOf(member)).to.equal(keyOf(from))
      }
      // Unsubscribed: no more deliveries.
      await pool.broadcast('hello', 'again')
      await tick()
      expect(seen).to.have.length(2)
    })

    // ---- close ---------------------------------------------------------------------------------

    it('drains on close: calls in flight and queued finish with their results, new calls reject, then all members exit', async () => {
      const pool = start({ size: 2, concurrency: 1 })
      await pool.ready
      const gate = tempPath('gate')
      const order: string[] = []
      const calls = Array.from({ length: 3 }, (_, i) =>
        pool.call<Identity>('hold', [gate]).then((value) => {
          order.push(`call ${i}`)
          return value
        }),
      )
      await until('two calls to run', () => pool.stats.inFlight === 2)
      expect(pool.stats.queued).to.equal(1)
      const closing = pool.close().then(() => order.push('closed'))
      const refused = await rejection(pool.call('whoami'))
      expect(refused).to.be.instanceOf(ChannelClosedError)
      expect(await rejection(pool.remote.whoami())).to.be.instanceOf(ChannelClosedError)
      await tick()
      expect(order).to.deep.equal([])
      open(gate)
      const results = await Promise.all(calls)
      expect(results.map(keyOf).every((key) => typeof key === 'number')).to.equal(true)
      await closing
      expect(order.at(-1)).to.equal('closed')
      expect(order.slice(0, -1).sort()).to.deep.equal(['call 0', 'call 1', 'call 2'])
      expect(pool.stats).to.include({ members: 0, inFlight: 0, queued: 0, completed: 3 })
      expect(pool.members).to.deep.equal([])
      // close() is idempotent.
      await pool.close()
    })

    workerOnly('rejects calls still running or queued after closeTimeout with ChannelClosedError', async () => {
      const pool = start({ size: 1, concurrency: 1, closeTimeout: 100 })
      await pool.ready
      const gate = tempPath('gate')
      const running = pool.call('hold', [gate])
      const queued = pool.call('hold', [gate])
      await until('one call to run', () => pool.stats.inFlight === 1 && pool.stats.queued === 1)
      const closing = pool.close()
      const [runningError, queuedError] = await Promise.all([rejection(running), rejection(queued)])
      expect(runningError).to.be.instanceOf(ChannelClosedError)
      expect(queuedError).to.be.instanceOf(ChannelClosedError)
      await closing
      expect(pool.stats).to.include({ members: 0, inFlight: 0, queued: 0, completed: 0 })
    })

    // ---- growing and reaping -------------------------------------------------------------------

    workerOnly('grows on demand up to maxSize when calls wait (one member per waiting call, concurrency 1)', async () => {
      const pool = start({ minSize: 1, maxSize: 3, concurrency: 1 })
      await pool.ready
      expect(pool.stats.members).to.equal(1)
      const gate = tempPath('gate')
      const calls = Array.from({ length: 4 }, () => pool.remote.hold(gate))
      await until('three members running three calls', () => pool.stats.members === 3 && pool.stats.inFlight === 3, 5000)
      expect(pool.stats.queued, 'the fourth waits: maxSize reached').to.equal(1)
      open(gate)
      const results = await Promise.all(calls)
      expect(new Set(results.map(keyOf)).size).to.equal(3)
      expect(pool.stats.members).to.equal(3)
    })

    workerOnly('reaps idle members above minSize after idleTimeout, then grows again on demand', async () => {
      const pool = start({ minSize: 1, maxSize: 2, concurrency: 1, idleTimeout: 100 })
      await pool.ready
      expect(pool.stats.members).to.equal(1)
      for (const round of [1, 2]) {
        const gate = tempPath(`gate-${round}`)
        const calls = [pool.remote.hold(gate), pool.remote.hold(gate)]
        await until(`round ${round}: two members running the two calls`, () => pool.stats.members === 2 && pool.stats.inFlight === 2)
        expect(pool.stats.queued).to.equal(0)
        open(gate)
        const results = await Promise.all(calls)
        expect(keyOf(results[0]!)).to.not.equal(keyOf(results[1]!))
        await until(`round ${round}: idle members reaped down to minSize`, () => pool.stats.members === 1 && pool.members.length === 1)
      }
      await sleep(300)
      expect(pool.stats.members, 'never below minSize').to.equal(1)
      expect(pool.stats.restarts, 'reaping is not dying').to.equal(0)
      expect(keyOf(await pool.remote.whoami())).to.be.a('number')
    })

    // ---- call handles --------------------------------------------------------------------------

    workerOnly('returns a Call handle from pool.call: id, state, cancel() rejects with CancelledError and aborts the member handler', async () => {
      const pool = start({ size: 1 })
      await pool.ready
      const started = deferred<PoolMember>()
      const aborted = deferred<{ member: PoolMember; from: Identity }>()
      pool.on('started', (member: PoolMember, tag: string) => tag === 'c1' && started.resolve(member))
      pool.on('aborted', (member: PoolMember, tag: string, from: Identity) => tag === 'c1' && aborted.resolve({ member, from }))
      const call = pool.call('waitForAbort', ['c1'])
      expect(call.id).to.be.a('number')
      expect(call.path).to.equal('waitForAbort')
      expect(call.state).to.equal('pending')
      await started.promise
      call.cancel()
      const error = await rejection(call)
      expect(error).to.be.instanceOf(CancelledError)
      expect(error.code).to.equal('RPC_CANCELLED')
      expect(call.state).to.equal('cancelled')
      const { member, from } = await aborted.promise
      expect(keyOf(member)).to.equal(keyOf(from))
      await until('the member to be free', () => pool.stats.inFlight === 0)
      // The pool still works, and the same handle kind resolves.
      const next = pool.call<Identity>('whoami')
      expect(next.id).to.not.equal(call.id)
      expect(keyOf(await next)).to.equal(keyOf(member))
      expect(next.state).to.equal('fulfilled')
    })

    workerOnly('cancels through an AbortSignal in the call options', async () => {
      const pool = start({ size: 1 })
      await pool.ready
      const started = deferred()
      const aborted = deferred()
      pool.on('started', (_member: PoolMember, tag: string) => tag === 's1' && started.resolve())
      pool.on('aborted', (_member: PoolMember, tag: string) => tag === 's1' && aborted.resolve())
      const controller = new AbortController()
      const call = pool.call('waitForAbort', ['s1'], { signal: controller.signal })
      await started.promise
      controller.abort()
      expect(await rejection(call)).to.be.instanceOf(CancelledError)
      await aborted.promise
    })

    workerOnly('rejects with TimeoutError after a per-call timeout, and after the pool timeout', async () => {
      const pool = start({ size: 1, timeout: 150 })
      await pool.ready
      const gate = tempPath('gate')
      const call = pool.call('hold', [gate], { timeout: 50 })
      const error = await rejection(call)
      expect(error).to.be.instanceOf(TimeoutError)
      expect(error.code).to.equal('RPC_TIMEOUT')
      expect(error.timeout).to.equal(50)
      expect(call.state).to.equal('timed out')
      const byDefault = await rejection(pool.remote.hold(gate))
      expect(byDefault).to.be.instanceOf(TimeoutError)
      expect(byDefault.timeout).to.equal(150)
      await until('the member handlers to be aborted', () => pool.stats.inFlight === 0)
      expect(keyOf(await pool.remote.whoami())).to.be.a('number')
    })

    workerOnly('counts a timeout of a queued call, which never runs', async () => {
      const pool = start({ size: 1, concurrency: 1 })
      await pool.ready
      const gate = tempPath('gate')
      const running = pool.remote.hold(gate)
      const queued = pool.call('hold', [gate], { timeout: 50 })
      expect(pool.stats.queued).to.equal(1)
      expect(await rejection(queued)).to.be.instanceOf(TimeoutError)
      expect(pool.stats.queued).to.equal(0)
      open(gate)
      await running
      await tick()
      const counts = await pool.broadcast<Record<string, number>>('counts')
      expect((counts[0] as PromiseFulfilledResult<Record<string, number>>).value.hold).to.equal(1)
      expect(pool.stats).to.include({ completed: 1, failed: 1 })
    })

    workerOnly('rejects the returned Call (never throws) when args is not an array, naming args, and runs nothing', async () => {
      const pool = start({ size: 1 })
      await pool.ready
      const seen: (Error | null)[] = []
      let call: ReturnType<Pool<any>['call']> | undefined
      expect(() => {
        call = pool.call('whoami', 'me' as unknown as unknown[], { callback: (error) => seen.push(error) })
      }).to.not.throw()
      const error = await rejection(call!)
      expect(error).to.be.instanceOf(RpcError)
      expect(error.code).to.equal('RPC_INVALID_ARGUMENT')
      expect(error.message).to.equal('args must be an array of arguments, got a string "me"')
      expect(call!.state).to.equal('rejected')
      expect(seen).to.deep.equal([error])
      // Queued or not, the same: with the only member busy, a bad call still rejects at once.
      const gate = tempPath('gate')
      const running = pool.remote.hold(gate)
      expect((await rejection(pool.call('hold', null as unknown as unknown[]))).code).to.equal('RPC_INVALID_ARGUMENT')
      expect(pool.stats.queued).to.equal(0)
      open(gate)
      await running
      const counts = await pool.broadcast<Record<string, number>>('counts')
      expect((counts[0] as PromiseFulfilledResult<Record<string, number>>).value).to.deep.equal({ hold: 1 })
      expect(pool.stats).to.include({ completed: 1, failed: 2, inFlight: 0, queued: 0 })
    })
  })
}

describe('createPool options (checked at the door)', function () {
  const refused: [title: string, modulePath: unknown, options: unknown, message: string][] = [
    ['a size that is not a number', MEMBER, { size: 'x' }, 'options.size must be a positive integer, got a string "x"'],
    ['a size of 0', MEMBER, { size: 0 }, 'options.size must be a positive integer, got a number 0'],
    ['a negative closeTimeout', MEMBER, { closeTimeout: -1 }, 'options.closeTimeout must be a non-negative number (or Infinity), got a number -1'],
    ['an idleTimeout of NaN', MEMBER, { idleTimeout: NaN }, 'options.idleTimeout must be a non-negative number (or Infinity), got a number NaN'],
    ['an unknown kind', MEMBER, { kind: 'thread' }, 'options.kind must be one of "worker", "process", got a string "thread"'],
    ['idempotent paths that are not an array', MEMBER, { idempotent: 'a' }, 'options.idempotent must be an array of paths (strings), got a string "a"'],
    ['an idempotent path that is not a string', MEMBER, { idempotent: ['a', 1] }, 'options.idempotent[1] must be a path (a string), got a number 1'],
    ['minSize above maxSize', MEMBER, { minSize: 3, maxSize: 2 }, 'options.minSize must be at most options.maxSize (2), got a number 3'],
    ['minSize above size', MEMBER, { size: 2, minSize: 3 }, 'options.minSize must be at most options.size (2), got a number 3'],
    ['size above maxSize', MEMBER, { size: 2, maxSize: 1 }, 'options.size must be at most options.maxSize (1), got a number 2'],
    ['a fractional minSize', MEMBER, { minSize: 1.5 }, 'options.minSize must be a non-negative integer, got a number 1.5'],
    ['a maxSize of 0', MEMBER, { maxSize: 0 }, 'options.maxSize must be a positive integer, got a number 0'],
    ['a concurrency of 0', MEMBER, { concurrency: 0 }, 'options.concurrency must be a positive integer (or Infinity), got a number 0'],
    ['a negative maxQueue', MEMBER, { maxQueue: -1 }, 'options.maxQueue must be a non-negative number (or Infinity), got a number -1'],
    ['a timeout given as a string', MEMBER, { timeout: '100' }, 'options.timeout must be a non-negative number (or Infinity), got a string "100"'],
    ['a maxStartFailures of 0', MEMBER, { maxStartFailures: 0 }, 'options.maxStartFailures must be a positive integer (or Infinity), got a number 0'],
    ['a negative minUptime', MEMBER, { minUptime: -5 }, 'options.minUptime must be a non-negative number, got a number -5'],
    ['an infinite minUptime', MEMBER, { minUptime: Infinity }, 'options.minUptime must be a non-negative number, got a number Infinity'],
    ['an expose that is not an object', MEMBER, { expose: 1 }, 'options.expose must be an object, got a number 1'],
    ['spawn options that are an array', MEMBER, { spawn: [] }, 'options.spawn must be an object, got an array'],
    ['options that are not an object', MEMBER, 'big', 'options must be an object, got a string "big"'],
    ['a modulePath that is a number', 42, {}, 'modulePath must be a path or a file URL (a string or a URL), got a number 42'],
    ['a modulePath that is a plain object', { href: MEMBER.href }, {}, 'modulePath must be a path or a file URL (a string or a URL), got an object'],
    ['no modulePath', undefined, {}, 'modulePath must be a path or a file URL (a string or a URL), got undefined'],
  ]
  for (const [title, modulePath, options, message] of refused) {
    it(`refuses ${title} with RPC_INVALID_ARGUMENT, naming it, what it expects and what it got`, () => {
      let error: unknown
      try {
        createPool(modulePath as URL, options as PoolOptions)
      } catch (thrown) {
        error = thrown
      }
      expect(error).to.be.instanceOf(RpcError)
      expect((error as RpcError).code).to.equal('RPC_INVALID_ARGUMENT')
      expect((error as RpcError).message).to.equal(message)
      // Nothing was started: the suite's leak check would find a worker left running.
    })
  }

  it('bounds the default of the other when only minSize or only maxSize is given', async () => {
    // Whatever the number of cores: { maxSize: 1 } starts one member, { minSize: 2 } allows two.
    const pools = [createPool(MEMBER, { maxSize: 1 }), createPool(MEMBER, { minSize: 2 })]
    try {
      await Promise.all(pools.map((pool) => pool.ready))
      expect(pools.map((pool) => pool.stats.members)).to.deep.equal([1, 2])
    } finally {
      await Promise.all(pools.map((pool) => pool.close()))
    }
  })
})
