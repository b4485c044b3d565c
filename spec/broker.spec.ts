/**
 * treerpc/amqp against a real RabbitMQ: a private node (own ports, own data dir under a temp folder)
 * started for this file and stopped after it; member processes are real child processes
 * (spec/fixtures/broker-member) killed with SIGKILL where a test says so. No mock broker.
 *
 * Without rabbitmq-server installed the file is pending, unless TREERPC_REQUIRE_RABBITMQ=1 (.ci/run).
 */
import { expect } from 'chai'
import { type ChildProcess, execFile, fork } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { z } from 'zod'
import { type PrivateNode, rabbitmqInstalled, startPrivateNode } from '../examples/broker/private-node.js'
import { type Broker, connectBroker } from '../lib/amqp.js'
import { BusyError, callContext, CancelledError, ChannelClosedError, MethodNotFoundError, RemoteError, TimeoutError } from '../lib/index.js'

const MEMBER = fileURLToPath(new URL('./fixtures/broker-member.js', import.meta.url))
const execFileAsync = promisify(execFile)
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface WorkApi {
  work: {
    pid(): number
    count(tag: string): number
    hold(ms: number, tag: string): number
    retry(ms: number, tag: string): number
  }
}

describe('broker: services on a real RabbitMQ (treerpc/amqp)', function () {
  this.timeout(30_000)
  let node: PrivateNode | undefined
  let dir = ''
  let services = 0
  const brokers: Broker[] = []
  const children: ChildProcess[] = []

  before(async function () {
    if (!rabbitmqInstalled()) {
      if (process.env.TREERPC_REQUIRE_RABBITMQ === '1') throw new Error('TREERPC_REQUIRE_RABBITMQ=1 but rabbitmq-server is not installed')
      console.log('      (rabbitmq-server is not installed: apt-get install rabbitmq-server, or run bash .ci/run)')
      this.skip()
    }
    this.timeout(90_000)
    node = await startPrivateNode()
    dir = mkdtempSync(join(os.tmpdir(), 'treerpc-broker-spec-'))
  })

  after(async function () {
    this.timeout(30_000)
    await node?.stop()
    if (dir !== '') rmSync(dir, { recursive: true, force: true })
  })

  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((broker) => broker.close()))
    await Promise.all(children.splice(0).map(stopChild))
  })

  const service = (): string => `svc${++services}`
  const connect = async (): Promise<Broker> => {
    const broker = await connectBroker(node!.url)
    brokers.push(broker)
    return broker
  }
  const logOf = (name: string): string => join(dir, `${name}.log`)
  const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [])

  async function member(name: string, concurrency: number, options: { maxQueue?: number; log?: string } = {}): Promise<ChildProcess> {
    const args = [node!.url, name, options.log ?? logOf(name), String(concurrency)]
    if (options.maxQueue !== undefined) args.push(String(options.maxQueue))
    const child = fork(MEMBER, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    children.push(child)
    const [message] = (await Promise.race([once(child, 'message'), once(child, 'exit').then(() => ['exited'])])) as [unknown]
    if (message !== 'ready') throw new Error(`member of ${name} did not start (${String(message)})`)
    return child
  }

  async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
    const end = Date.now() + ms
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await sleep(10)
    }
  }

  describe('one engine: calls, errors, values and events as on any channel', () => {
    it('calls a nested, typed API through the same proxy, and the handler sees callContext()', async () => {
      const name = service()
      const seen: unknown[] = []
      const api = {
        math: {
          vector: { norm: (v: number[]) => Math.hypot(...v) },
        },
        whoami: () => {
          const { path, id, signal } = callContext()
          seen.push({ path, id: typeof id, aborted: signal.aborted })
          return 'ok'
        },
      }
      await (await connect()).serve(name, api)
      const client = (await connect()).client<typeof api>(name)
      expect(await client.remote.math.vector.norm([3, 4])).to.equal(5)
      expect(await client.call('whoami')).to.equal('ok')
      expect(seen).to.deep.equal([{ path: 'whoami', id: 'string', aborted: false }])
    })

    it('carries values whole (Date, Map, BigInt, undefined, typed arrays) and errors with their fields', async () => {
      const name = service()
      await (await connect()).serve(name, {
        echo: (value: unknown) => value,
        fail: () => {
          throw Object.assign(new RangeError('too far'), { code: 'E_FAR', limit: 7n })
        },
      })
      const client = (await connect()).client(name)
      const value = { when: new Date(5), map: new Map([[1, 'a']]), big: 2n ** 70n, none: undefined, bytes: new Uint8Array([1, 2]) }
      expect(await client.remote.echo(value)).to.deep.equal(value)
      const error = await client.remote.fail().catch((e: unknown) => e)
      expect(error).to.be.instanceOf(RemoteError)
      expect(error).to.include({ name: 'RangeError', message: 'too far', code: 'E_FAR', limit: 7n })
      // No references over a broker: nothing could call back to this client through the member.
      const refused = await client.remote.echo(() => 1).catch((e: unknown) => e)
      expect(refused).to.have.property('code', 'RPC_UNSENDABLE')
      expect((refused as Error).message).to.match(/args\[0\]: a function cannot be sent/)
    })

    it('fails an unknown path, a reserved or prototype path, and bad params at the caller, with coded errors', async () => {
      const name = service()
      const member = await (await connect()).serve(name, { ok: () => 1 })
      member.handle('typed', (n: number) => n * 2, { params: z.tuple([z.number()]) })
      const client = (await connect()).client(name)
      for (const path of ['nope', '__proto__', 'constructor', 'ok.__proto__', 'rpc.hello']) {
        const error = await client.call(path).catch((e: unknown) => e)
        expect(error, path).to.be.instanceOf(MethodNotFoundError)
      }
      const invalid = await client.call('typed', ['x']).catch((e: unknown) => e)
      expect(invalid).to.have.property('code', 'RPC_INVALID_PARAMS')
      expect(await client.call('typed', [21])).to.equal(42)
    })

    it('sends events from a member to every client, and a notification to one member', async () => {
      const name = service()
      const got: number[] = []
      const member = await (await connect()).serve(name, { reset: (n: number) => got.push(n) })
      const first = (await connect()).client(name)
      const second = (await connect()).client(name)
      const heard: string[] = []
      first.on('progress', (n: number) => heard.push(`first ${n}`))
      second.on('progress', (n: number) => heard.push(`second ${n}`))
      // The event queues are bound once the clients are attached: a call round trip proves it.
      await first.call('reset', [0])
      await second.call('reset', [0])
      member.emit('progress', 42)
      first.notify('reset', 1)
      await until(() => heard.length === 2 && got.length === 3, 'the event and the notification')
      expect(heard.sort()).to.deep.equal(['first 42', 'second 42'])
      expect(got).to.deep.equal([0, 0, 1])
    })

    it('lets a call wait for a member that comes later, within its timeout', async () => {
      const name = service()
      const client = (await connect()).client(name, { timeout: 10_000 })
      const call = client.call('late', [])
      await sleep(300)
      await (await connect()).serve(name, { late: () => 'served' })
      expect(await call).to.equal('served')
      const early = await client.call('late', [], { timeout: 200 }).catch((e: unknown) => e)
      expect(early).to.equal('served')
    })

    it('fails an oversize call at once and an oversize reply at its caller, and the connection goes on', async () => {
      const name = service()
      await (await connect()).serve(name, { big: (n: number) => 'x'.repeat(n), len: (s: string) => s.length }, { maxMessageSize: 1000 })
      const client = (await connect()).client(name, { maxMessageSize: 1000 })
      const inFlight = client.call('len', ['ok'])
      const tooBig = await client.call('len', ['y'.repeat(2000)]).catch((e: unknown) => e)
      expect(tooBig).to.have.property('code', 'RPC_MESSAGE_TOO_LARGE')
      const bigReply = await client.call('big', [2000]).catch((e: unknown) => e)
      expect(bigReply).to.have.property('code', 'RPC_UNSENDABLE')
      expect((bigReply as Error).message).to.match(/maxMessageSize/)
      expect(await inFlight).to.equal(2)
      expect(await client.call('big', [10])).to.equal('x'.repeat(10))
    })

    it('leaves nothing of a client in the broker once it is closed, nor of a member', async function () {
      this.timeout(30_000)
      const name = service()
      const serving = await connect()
      await serving.serve(name, { ping: () => 'pong' })
      const calling = await connect()
      const client = calling.client(name)
      client.on('progress', () => undefined)
      expect(await client.call('ping')).to.equal('pong')
      const queues = async (): Promise<string[]> => (await node!.ctl('list_queues', 'name', '--no-table-headers')).split('\n').map((line) => line.trim()).filter(Boolean)
      const privateQueues = (all: string[]): string[] => all.filter((queue) => queue.startsWith('amq.gen-'))
      const before = await queues()
      // The service's queue stays (calls may wait in it for a member); the member's control queue and
      // the client's event queue are private, server-named, and go with their connections.
      expect(before).to.include(`treerpc.${name}`)
      expect(privateQueues(before)).to.have.length(2)
      await calling.close()
      await serving.close()
      const after = await queues()
      expect(privateQueues(after)).to.deep.equal([])
      expect(after).to.include(`treerpc.${name}`)
    })

    it('refuses a member whose maxQueue differs from the service queue it joins', async () => {
      const name = service()
      await (await connect()).serve(name, { a: () => 1 }, { maxQueue: 10 })
      const error = await (await connect()).serve(name, { a: () => 1 }, { maxQueue: 20 }).catch((e: unknown) => e)
      expect(error).to.be.instanceOf(Error).with.property('message').that.matches(/maxQueue/)
    })

    it('checks options at the door', async () => {
      const broker = await connect()
      expect(() => broker.client('bad name!')).to.throw(/name must be/)
      const error = await broker.serve('x', {}, { concurrency: 0 }).catch((e: unknown) => e)
      expect(error).to.have.property('code', 'RPC_INVALID_ARGUMENT')
      const wrong = await connectBroker({ url: 'amqp://127.0.0.1:1' }).catch((e: unknown) => e)
      expect(wrong).to.be.instanceOf(Error)
    })
  })

  describe('delivery', () => {
    it('spreads calls over three member processes, and members() lists them', async () => {
      const name = service()
      const pids = await Promise.all([member(name, 4), member(name, 4), member(name, 4)]).then((all) => all.map((c) => c.pid))
      const client = (await connect()).client<WorkApi>(name)
      const served = await Promise.all(Array.from({ length: 60 }, (_, i) => client.remote.work.hold(30, `t${i}`)))
      expect(new Set(served)).to.deep.equal(new Set(pids))
      const members = await client.members()
      expect(members.map((m) => m.pid).sort()).to.deep.equal([...pids].sort())
      expect(members[0]).to.have.keys('id', 'host', 'pid', 'inFlight', 'since')
    })

    it('a member killed mid-call: an idempotent call runs again elsewhere; any other rejects and ran once', async () => {
      const name = service()
      const doomed = await member(name, 2, { log: logOf(`${name}-a`) })
      const client = (await connect()).client<WorkApi>(name, { timeout: 20_000 })
      const idempotent = client.remote.work.retry(1500, 'i1')
      const other = client.remote.work.hold(1500, 'n1').catch((e: unknown) => e)
      await until(() => lines(logOf(`${name}-a`)).length === 2, 'both calls to start')
      const survivor = await member(name, 2, { log: logOf(`${name}-b`) })
      doomed.kill('SIGKILL')
      expect(await idempotent).to.equal(survivor.pid)
      const error = await other
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect((error as Error).message).to.match(/was lost.*not run again/)
      const all = [...lines(logOf(`${name}-a`)), ...lines(logOf(`${name}-b`))]
      expect(all.filter((line) => line === 'start n1')).to.have.length(1)
      expect(all.filter((line) => line === 'start i1')).to.have.length(2)
    })

    it('an idempotent call runs again at most once: lost with a second member, it rejects (a poison call cannot take down the fleet)', async () => {
      const name = service()
      const logs = ['a', 'b', 'c'].map((x) => logOf(`${name}-${x}`))
      const first = await member(name, 1, { log: logs[0] })
      const client = (await connect()).client<WorkApi>(name, { timeout: 20_000 })
      const call = client.remote.work.retry(5000, 'poison').catch((e: unknown) => e)
      await until(() => lines(logs[0]!).includes('start poison'), 'the first run')
      const second = await member(name, 1, { log: logs[1] })
      first.kill('SIGKILL')
      await until(() => lines(logs[1]!).includes('start poison'), 'the second run, elsewhere')
      await member(name, 1, { log: logs[2] })
      second.kill('SIGKILL')
      const error = await call
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect((error as Error).message).to.match(/already run again once/)
      expect(logs.flatMap(lines).filter((line) => line === 'start poison')).to.have.length(2)
    })

    it('a call that expires while queued never runs; its caller gets TimeoutError', async () => {
      const name = service()
      await member(name, 1)
      const client = (await connect()).client<WorkApi>(name)
      const busy = client.remote.work.hold(700, 'busy')
      await until(() => lines(logOf(name)).includes('start busy'), 'the busy call')
      const late = await client.call('work.hold', [10, 'late'], { timeout: 200 }).catch((e: unknown) => e)
      expect(late).to.be.instanceOf(TimeoutError)
      await busy
      expect(await client.remote.work.hold(10, 'after')).to.be.a('number')
      expect(lines(logOf(name))).to.not.include('start late')
    })

    it('cancel aborts the running handler signal, and keeps a queued call from running', async () => {
      const name = service()
      await member(name, 1)
      const client = (await connect()).client<WorkApi>(name)
      const running = client.call('work.hold', [5000, 'c1'])
      await until(() => lines(logOf(name)).includes('start c1'), 'the call to start')
      const queued = client.call('work.hold', [10, 'q1'])
      await sleep(50)
      queued.cancel()
      running.cancel()
      expect(await running.promise.catch((e: unknown) => e)).to.be.instanceOf(CancelledError)
      expect(await queued.promise.catch((e: unknown) => e)).to.be.instanceOf(CancelledError)
      await until(() => lines(logOf(name)).includes('aborted c1'), 'the handler signal to abort')
      expect(await client.remote.work.hold(10, 'after')).to.be.a('number')
      expect(lines(logOf(name))).to.not.include('start q1')
    })

    it('maxQueue: a call beyond it fails at once with BusyError at its own client only, the queued ones run', async () => {
      const name = service()
      await member(name, 1, { maxQueue: 2 })
      // Two clients on two connections: each numbers its calls from 1, so the refused call has the same
      // id as the filler's running one (refusals reach every client of the service; only its own takes it).
      const filler = (await connect()).client<WorkApi>(name)
      const client = (await connect()).client<WorkApi>(name)
      await client.members() // attached
      const busy = filler.remote.work.hold(800, 'busy')
      await until(() => lines(logOf(name)).includes('start busy'), 'the busy call')
      const queued = [filler.remote.work.hold(1, 'q1'), filler.remote.work.hold(1, 'q2')]
      await sleep(100)
      const started = Date.now()
      const refused = await client.remote.work.hold(1, 'q3').catch((e: unknown) => e)
      expect(refused).to.be.instanceOf(BusyError)
      expect((refused as Error).message).to.match(/queue of "svc\d+" is full/)
      expect(Date.now() - started).to.be.below(700) // refused by the broker, not after the busy call
      expect(await Promise.all([busy, ...queued])).to.have.length(3)
      expect(lines(logOf(name))).to.not.include('start q3')
    })

    it("close({ drain }) lets running calls finish and leaves queued ones to the other members", async () => {
      const name = service()
      const broker = await connect()
      const leaving = await broker.serve(name, { hold: async (ms: number) => (await sleep(ms), 'first') }, { concurrency: 1 })
      const client = (await connect()).client(name)
      const running = client.call('hold', [300])
      await sleep(100)
      const waiting = client.call('hold', [1])
      const closed = leaving.close({ drain: 2000 })
      await (await connect()).serve(name, { hold: () => 'second' })
      expect(await running).to.equal('first')
      expect(await waiting).to.equal('second')
      await closed
    })

    it('runs each of 10,000 calls over three members exactly once', async function () {
      this.timeout(60_000)
      const name = service()
      const logs = [0, 1, 2].map((i) => logOf(`${name}-${i}`))
      await Promise.all(logs.map((log) => member(name, 16, { log })))
      const client = (await connect()).client<WorkApi>(name, { timeout: 50_000 })
      const results = await Promise.all(Array.from({ length: 10_000 }, (_, i) => client.remote.work.count(`k${i}`)))
      expect(results).to.have.length(10_000)
      const runs = logs.flatMap(lines)
      expect(runs).to.have.length(10_000)
      expect(new Set(runs).size).to.equal(10_000)
      for (const log of logs) expect(lines(log).length, log).to.be.above(0)
    })
  })

  describe('the README', () => {
    it("runs the 'Across machines' member and caller as written", async function () {
      this.timeout(30_000)
      const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')
      const section = readme.slice(readme.indexOf('## Across machines'))
      const [member, caller] = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1]!)
      expect(member).to.contain('// images.mjs')
      expect(caller).to.contain('// caller.mjs')
      // Inside the package, `import 'treerpc/amqp'` resolves to the package itself (Node's self-reference).
      const where = join(fileURLToPath(new URL('../readme', import.meta.url)))
      mkdirSync(where, { recursive: true })
      writeFileSync(join(where, 'images.mjs'), member!)
      writeFileSync(join(where, 'caller.mjs'), caller!)
      const env = { ...process.env, AMQP_URL: node!.url }
      // The caller first: its calls wait for the member within their timeout.
      const calling = execFileAsync(process.execPath, [join(where, 'caller.mjs')], { env, timeout: 20_000 })
      const serving = fork(join(where, 'images.mjs'), [], { env, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
      children.push(serving)
      let served = ''
      serving.stdout!.on('data', (chunk) => (served += chunk))
      const { stdout } = await calling
      expect(stdout).to.contain('Uint8Array(2) [ 1, 5 ]')
      expect(stdout).to.contain('pending 2')
      expect(stdout).to.contain('progress 42')
      expect(stdout).to.match(/pid: \d+/)
      await until(() => served.includes('stats reset'), 'the notification')
      const exited = once(serving, 'exit')
      serving.kill('SIGTERM')
      expect((await exited)[0]).to.equal(0)
    })
  })

  describe('losing the broker', () => {
    it('rejects pending calls with ChannelClosedError, reconnects, and goes on without restarting anything', async function () {
      this.timeout(60_000)
      const name = service()
      const serving = await connect()
      await serving.serve(name, { hold: async (ms: number) => (await sleep(ms), 'done'), ping: () => 'pong' })
      const calling = await connect()
      const client = calling.client(name, { timeout: 30_000 })
      const events: string[] = []
      calling.on('disconnect', () => events.push('disconnect'))
      calling.on('reconnect', () => events.push('reconnect'))
      expect(await client.call('ping')).to.equal('pong')
      const pending = Array.from({ length: 5 }, () => client.call('hold', [5000]).promise.catch((e: unknown) => e))
      await sleep(200)
      await node!.kill()
      for (const error of await Promise.all(pending)) expect(error).to.be.instanceOf(ChannelClosedError)
      expect(calling.connected).to.equal(false)
      // Made while disconnected: waits for the reconnection, within its timeout.
      const waiting = client.call('ping')
      await node!.start()
      expect(await waiting).to.equal('pong')
      expect(events).to.deep.equal(['disconnect', 'reconnect'])
      await until(() => serving.connected, 'the member to reconnect')
      expect(await client.members()).to.have.length(1)
    })
  })
})

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
}
