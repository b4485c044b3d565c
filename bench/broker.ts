/**
 * The `broker` workloads: RPC through RabbitMQ, on one private node (examples/broker/private-node.ts)
 * started for the section and stopped at its end. Every server side is a child process, so client and
 * server are separate processes in every row, as in production.
 *
 * - raw amqplib, the limit: a queue consumed with prefetch 64, replies by direct reply-to
 *   (`amq.rabbitmq.reply-to`), `{ id, x }` JSON bodies matched by id (bench/workers/broker-raw.ts);
 *   TCP_NODELAY on every connection (amqplib's default leaves Nagle on: ~40 ms stalls);
 * - treerpc/amqp: `connectBroker` + `broker.serve` (concurrency 64) / `broker.client`;
 * - moleculer with its AMQP transporter (amqplib underneath), prefetch 64 and TCP_NODELAY like the others.
 *
 * Workloads: sequential latency and 64 calls in flight of a small echo (all three), and scale: treerpc
 * only, 5 ms of busy CPU per call, 64 in flight, served by 1 member process against 2 (concurrency 1
 * each, so the members' CPU is the bottleneck and a second member should double the rate).
 */
import type { ChildProcess } from 'node:child_process'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import amqplib from 'amqplib'
import moleculer from 'moleculer'
import { rabbitmqInstalled, startPrivateNode } from '../examples/broker/private-node.js'
import { type Broker, connectBroker } from '../lib/amqp.js'
import { stopChild, workerUrl } from './adapters.js'
import { type Entry, type EntryResult, inFlight, interleaved, median, messageOf, now, percentile, sequential, table, withDeadline } from './harness.js'
import { atLeast, atMost, type Metrics, printTable, value } from './section.js'
import type { BrokerBenchApi } from './workers/broker-treerpc.js'

const DEPTH = 64
const DEADLINE = 120_000
/** The echoed value (moleculer wraps it in its params object, the others send it as is). */
const VALUE = { a: 1, b: 'x' }
const WORK_MS = 5
/** Every table's title ends with where it ran. */
const NODE = ' — RabbitMQ, private node'
/** Latency: time per call against raw amqplib's. */
const RAW = { label: '× raw', key: 'median' }
const RAW_QUEUE = 'bench-raw'

/** Thrown when a treerpc row failed: the bench then exits with 1, and `report` still gets printed. */
export class BrokerBenchFailure extends Error {
  constructor(
    message: string,
    readonly report: string,
  ) {
    super(message)
  }
}


interface Contender {
  name: string
  raw?: boolean
  note: string
  start(): Promise<void>
  call(): Promise<unknown>
}

/** Forks a bench worker and resolves once it says 'ready'; rejects if it exits or stays silent first. */
async function forkReady(name: string, args: string[], children: ChildProcess[]): Promise<ChildProcess> {
  const child = fork(fileURLToPath(workerUrl(name)), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.push(child)
  await withDeadline(
    new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve())
      child.once('exit', (code, signal) => reject(new Error(`${name} exited (${code ?? signal}) before it was ready`)))
      child.once('error', reject)
    }),
    30_000,
    `${name} start`,
  )
  return child
}

function same(a: unknown, b: unknown): void {
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`echo came back altered: ${JSON.stringify(a)}`)
}

export async function runBrokerBench(opts: { quick: boolean; smoke: boolean }): Promise<string> {
  const lines: string[] = []
  const out = (text = ''): void => void lines.push(text)
  if (!rabbitmqInstalled()) {
    const why = 'rabbitmq-server is not installed (Debian/Ubuntu: apt-get install rabbitmq-server)'
    const report = `> broker:rabbitmq skipped: ${why}\n`
    // CI installs it (.ci/run): there a missing server is a failure, not a skip.
    if (process.env.TREERPC_REQUIRE_RABBITMQ === '1') throw new BrokerBenchFailure(why, report)
    return report
  }
  // Round trips through a broker cost ~10× those over IPC: counts are smaller than bench/run.ts's.
  const size = opts.smoke
    ? { rounds: 1, minMs: 0, warm: 20, latency: 30, throughput: 200, scale: 16 }
    : opts.quick
      ? { rounds: 3, minMs: 70, warm: 300, latency: 300, throughput: 3000, scale: 150 }
      : { rounds: 7, minMs: 250, warm: 2000, latency: 2000, throughput: 20_000, scale: 600 }

  const started = now()
  const node = await startPrivateNode()
  const children: ChildProcess[] = []
  /** What to close in the bench process at the end, last opened first. */
  const closers: [string, () => Promise<unknown>][] = []
  const failures: string[] = []
  try {
    const url = node.url
    out(`- RabbitMQ: private node at ${url.replace(/\/\/[^@]*@/, '//')} (started in ${((now() - started) / 1000).toFixed(1)} s), node ${process.version}, amqplib underneath every row`)
    out()

    // ---- the contenders ----
    /**
     * A raw client: direct reply-to, consumed with noAck on the very channel that publishes. `confirm`:
     * a confirm channel and mandatory publishes, as treerpc/amqp publishes its calls (the call still
     * settles on the reply alone): a yardstick of what that costs, not a denominator.
     */
    const rawClient = async (confirm: boolean): Promise<() => Promise<unknown>> => {
      const connection = await amqplib.connect(url, { noDelay: true })
      closers.push([`raw amqplib${confirm ? ' (confirm)' : ''}`, () => connection.close()])
      const channel = confirm ? await connection.createConfirmChannel() : await connection.createChannel()
      const pending = new Map<number, (value: unknown) => void>()
      let next = 1
      await channel.consume(
        'amq.rabbitmq.reply-to',
        (message) => {
          if (message === null) return
          const { id, x } = JSON.parse(message.content.toString()) as { id: number; x: unknown }
          pending.get(id)?.(x)
          pending.delete(id)
        },
        { noAck: true },
      )
      return () =>
        new Promise((resolve) => {
          const id = next++
          pending.set(id, resolve)
          channel.sendToQueue(RAW_QUEUE, Buffer.from(JSON.stringify({ id, x: VALUE })), { replyTo: 'amq.rabbitmq.reply-to', mandatory: confirm })
        })
    }
    const raw: Contender = {
      name: 'raw amqplib',
      raw: true,
      note: 'queue + prefetch 64, direct reply-to, noDelay, `{ id, x }` JSON',
      async start() {
        await forkReady('broker-raw', [url, RAW_QUEUE], children)
        this.call = await rawClient(false)
      },
      call: () => Promise.reject(new Error('not started')),
    }
    const rawConfirm: Contender = {
      name: 'raw amqplib, confirm channel',
      note: 'yardstick: the same, calls published on a confirm channel, mandatory',
      async start() {
        this.call = await rawClient(true)
      },
      call: () => Promise.reject(new Error('not started')),
    }

    let shared: Promise<Broker> | undefined
    /** One treerpc client per service, all on one connection of the bench process. */
    const treerpcClient = async (service: string) => {
      shared ??= connectBroker(url).then((broker) => {
        closers.push(['treerpc broker', () => broker.close()])
        return broker
      })
      const client = (await shared).client<BrokerBenchApi>(service, { timeout: 30_000 })
      closers.push([`treerpc client ${service}`, () => client.close()])
      return client
    }

    const treerpc: Contender = {
      name: 'treerpc/amqp',
      note: '`broker.serve` (concurrency 64) / `broker.client`',
      async start() {
        const client = await treerpcClient('bench')
        await forkReady('broker-treerpc', [url, 'bench', '64'], children)
        this.call = () => client.remote.echo(VALUE)
      },
      call: () => Promise.reject(new Error('not started')),
    }

    const mol: Contender = {
      name: 'moleculer',
      note: 'AMQP transporter, prefetch 64 and noDelay (defaults: 1, off), `broker.call`',
      async start() {
        await forkReady('broker-moleculer', [url], children)
        const broker = new moleculer.ServiceBroker({
          nodeID: `bench-client-${process.pid}`,
          transporter: { type: 'AMQP', options: { url, prefetch: 64, socketOptions: { noDelay: true } } },
          logger: false,
          // Else it takes over SIGINT/SIGTERM of the bench process (stop, then exit 0).
          skipProcessEventRegistration: true,
        })
        await broker.start()
        closers.push(['moleculer', () => broker.stop()])
        await broker.waitForServices('bench', 30_000)
        this.call = () => broker.call('bench.echo', { x: VALUE })
      },
      call: () => Promise.reject(new Error('not started')),
    }

    const scale = [1, 2].map(
      (members): Contender => ({
        name: `treerpc/amqp, ${members} member${members > 1 ? 's' : ''}`,
        note: `${members} process${members > 1 ? 'es' : ''}, concurrency 1 each, \`work(${WORK_MS})\``,
        async start() {
          const service = `bench-scale-${members}`
          const client = await treerpcClient(service)
          for (let i = 0; i < members; i++) await forkReady('broker-treerpc', [url, service, '1'], children)
          const joined = (await client.members()).length
          if (joined !== members) throw new Error(`${service}: ${joined} members listed, ${members} started`)
          this.call = () => client.remote.work(WORK_MS)
        },
        call: () => Promise.reject(new Error('not started')),
      }),
    )

    const failedStart = new Map<Contender, string>()
    for (const contender of [raw, rawConfirm, treerpc, mol, ...scale]) {
      try {
        await withDeadline(contender.start(), 60_000, `${contender.name} start`)
        if (!contender.name.includes('member')) same(await contender.call(), VALUE)
      } catch (error) {
        failedStart.set(contender, `failed to start: ${messageOf(error)}`)
      }
    }

    // ---- the workloads ----
    const run = async (contenders: Contender[], entry: (c: Contender) => Entry<Metrics>): Promise<EntryResult<Metrics>[]> => {
      const rows = await interleaved(
        contenders.filter((c) => !failedStart.has(c)).map(entry),
        size.rounds,
        DEADLINE,
      )
      const failed = contenders.filter((c) => failedStart.has(c)).map((c) => ({ label: c.name, raw: c.raw === true, note: c.note, rounds: [], error: failedStart.get(c)! }))
      // Keep the contenders' order in the table.
      return contenders.map((c) => [...rows, ...failed].find((row) => row.label === c.name)!)
    }
    const latencyEntry = (c: Contender): Entry<Metrics> => ({
      label: c.name,
      raw: c.raw === true,
      note: c.note,
      warmup: async () => void (await sequential(c.call, size.warm)),
      measure: async () => {
        const samples = await sequential(c.call, size.latency, size.minMs)
        return { median: median(samples), p99: percentile(samples, 99) }
      },
    })
    const rateEntry =
      (count: number, warm: number) =>
      (c: Contender): Entry<Metrics> => ({
        label: c.name,
        raw: c.raw === true,
        note: c.note,
        warmup: async () => void (await inFlight(c.call, warm, DEPTH)),
        measure: async () => {
          const { ms, calls } = await inFlight(c.call, count, DEPTH, size.minMs)
          return { perCall: (ms * 1000) / calls, rate: calls / (ms / 1000) }
        },
      })

    const echo = [raw, rawConfirm, treerpc, mol]
    let t = now()
    const latency = await run(echo, latencyEntry)
    printTable(out, `Sequential round-trip latency (small call \`${JSON.stringify(VALUE)}\`)${NODE}`, 'broker:latency', size.rounds, now() - t, latency, [
      ['median', 'median µs'],
      ['p99', 'p99 µs'],
    ], RAW)
    t = now()
    const throughput = await run(echo, rateEntry(size.throughput, size.warm * 2))
    printTable(out, `Throughput, ${DEPTH} calls in flight (small call)${NODE}`, 'broker:throughput', size.rounds, now() - t, throughput, [
      ['rate', 'calls/s', 0],
      ['perCall', 'µs/call'],
    ], { label: '× raw', key: 'perCall' })
    t = now()
    const scaled = await run(scale, rateEntry(size.scale, Math.max(8, size.scale / 4)))
    printTable(
      out,
      `Scale: ${WORK_MS} ms of busy CPU per call, ${DEPTH} in flight, 1 member process against 2${NODE}`,
      'broker:scale',
      size.rounds,
      now() - t,
      scaled,
      [
        ['rate', 'calls/s', 0],
        ['perCall', 'µs/call', 0],
      ],
      { label: 'speedup', key: 'perCall', speedup: true },
    )

    // ---- targets ----
    const verdicts: string[][] = []
    atMost(verdicts, 'sequential latency, × raw amqplib', value(latency, treerpc.name, 'median') / value(latency, raw.name, 'median'), 1.15)
    atMost(verdicts, `${DEPTH} in flight, time per call × raw amqplib`, value(throughput, treerpc.name, 'perCall') / value(throughput, raw.name, 'perCall'), 1.3)
    atLeast(verdicts, 'sequential latency: moleculer ÷ treerpc (faster than moleculer)', value(latency, mol.name, 'median') / value(latency, treerpc.name, 'median'), 1, '×')
    atLeast(verdicts, `${DEPTH} in flight: moleculer ÷ treerpc time per call`, value(throughput, mol.name, 'perCall') / value(throughput, treerpc.name, 'perCall'), 1, '×')
    atLeast(verdicts, `scale: 2 members ÷ 1 member, calls/s`, value(scaled, scale[1]!.name, 'rate') / value(scaled, scale[0]!.name, 'rate'), 1.8, '×')
    out(`#### Targets (treerpc/amqp), medians of this run${opts.smoke ? ' (SMOKE: meaningless counts)' : opts.quick ? ' (quick: noisier)' : ''}`)
    out()
    out(table(['target', 'measured', 'target', 'verdict'], verdicts, ['l', 'r', 'r', 'l']))
    out()
    for (const row of [...latency, ...throughput, ...scaled]) if (row.label.startsWith('treerpc') && row.error !== undefined) failures.push(`${row.label}: ${row.error}`)
  } finally {
    // Everything this section started goes, also on failure: clients, child processes, the node.
    for (const [name, close] of closers.reverse()) {
      try {
        await withDeadline(close(), 15_000, `closing ${name}`)
      } catch (error) {
        out(`> closing ${name} failed: ${messageOf(error)}`)
      }
    }
    await Promise.all(children.map((child) => stopChild(child)))
    await node.stop()
  }
  out(`Broker section: ${((now() - started) / 1000).toFixed(1)} s, node start and stop included`)
  out()
  const report = lines.join('\n') + '\n'
  if (failures.length > 0) throw new BrokerBenchFailure(failures.join('; '), report)
  return report
}

