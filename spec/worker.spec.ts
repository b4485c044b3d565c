/**
 * Integration specs over real worker threads (spawnWorker). Fixtures live in spec/fixtures/ and are
 * shared with the child-process specs: `connectParent` serves both. Every test ends with its workers
 * gone: the afterEach terminates whatever is still running.
 */
import { expect } from 'chai'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ChannelClosedError, RemoteError, RpcError, spawnWorker, type SpawnWorkerOptions, type WorkerHandle } from '../lib/index.js'
import { deferred, rejection, tick } from './helpers.js'

const fixture = (name: string): URL => new URL(`./fixtures/${name}.js`, import.meta.url)

/** What the parent exposes to its workers (the echo fixture calls `math.double` and `fail`). */
const parentApi = {
  math: { double: (n: number) => n * 2 },
  fail: () => {
    throw Object.assign(new RangeError('parent says no'), { code: 'E_PARENT', limit: 9 })
  },
}

describe('worker threads (spawnWorker)', () => {
  let handles: WorkerHandle<any>[] = []

  function start(name: string, options: SpawnWorkerOptions = {}): WorkerHandle<any> {
    const handle = spawnWorker<any>(fixture(name), options)
    handles.push(handle)
    return handle
  }

  afterEach(async () => {
    const running = handles
    handles = []
    await Promise.all(running.map((handle) => handle.kill()))
  })

  it('calls nested methods both ways: the worker calls back into the parent during a call', async () => {
    const worker = start('echo', { expose: parentApi })
    expect(await worker.remote.echo('hi')).to.equal('hi')
    expect(await worker.remote.deep.a.b.viaParent(20)).to.equal(41)
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => worker.remote.deep.a.b.viaParent(i)))
    expect(results).to.deep.equal(Array.from({ length: 50 }, (_, i) => 2 * i + 1))
    expect(worker.peer.stats.pending).to.equal(0)
  })

  it('carries events both ways, in send order', async () => {
    const worker = start('echo')
    await worker.ready
    const pongs: unknown[][] = []
    const all = deferred()
    worker.peer.on('pong', (...args: unknown[]) => {
      pongs.push(args)
      if (pongs.length === 100) all.resolve()
    })
    for (let i = 0; i < 100; i++) worker.peer.emit('ping', i, { label: `n${i}` })
    await all.promise
    expect(pongs).to.deep.equal(Array.from({ length: 100 }, (_, i) => [i, { label: `n${i}` }]))
  })

  it('round-trips errors both ways as RemoteError with name, code and custom fields', async () => {
    const worker = start('echo', { expose: parentApi })
    const error = await rejection(worker.remote.fail())
    expect(error).to.be.instanceOf(RemoteError)
    expect(error).to.be.instanceOf(RpcError)
    expect(error.name).to.equal('QuotaError')
    expect(error.code).to.equal('E_QUOTA')
    expect(error.message).to.equal('quota exceeded')
    expect(error.limit).to.equal(3)
    expect(await worker.remote.parentError()).to.deep.equal({
      remote: true,
      name: 'RangeError',
      code: 'E_PARENT',
      message: 'parent says no',
      limit: 9,
    })
  })

  it('carries Map, Date and Uint8Array as themselves (structured clone)', async () => {
    const worker = start('echo')
    const date = new Date('2024-02-29T12:34:56.789Z')
    const back = await worker.remote.echo({ map: new Map([['a', 1]]), date, bytes: Uint8Array.of(1, 2, 255) })
    expect(back.map).to.be.instanceOf(Map)
    expect([...back.map]).to.deep.equal([['a', 1]])
    expect(back.date).to.be.instanceOf(Date)
    expect(back.date.getTime()).to.equal(date.getTime())
    expect(back.bytes).to.be.instanceOf(Uint8Array)
    expect([...back.bytes]).to.deep.equal([1, 2, 255])
    expect(await worker.remote.nothing()).to.equal(undefined)
  })

  it('moves a transferred ArrayBuffer: the sender copy is detached and the worker gets the bytes', async () => {
    const worker = start('echo')
    await worker.ready
    const bytes = Uint8Array.of(10, 20, 30, 40)
    const call = worker.peer.call('describe', [bytes], { transfer: [bytes.buffer] })
    expect(bytes.buffer.byteLength, 'the sender ArrayBuffer after the call was sent').to.equal(0)
    expect(await call).to.deep.equal({ kind: 'Uint8Array', bytes: [10, 20, 30, 40] })
    expect(bytes.byteLength).to.equal(0)
  })

  it('rejects every pending call at once with ChannelClosedError when kill() terminates the worker mid-call', async () => {
    const worker = start('echo', { timeout: 0 })
    const calls = Array.from({ length: 5 }, () => worker.peer.call('hang'))
    expect(await worker.remote.echo('sync')).to.equal('sync')
    const errors = Promise.all(calls.map(rejection))
    const killing = worker.kill()
    const exit = await worker.exited
    expect(exit.signal).to.equal(null)
    expect(exit.code).to.be.a('number')
    await tick()
    expect(calls.map((call) => call.state)).to.deep.equal(Array(5).fill('rejected'))
    for (const error of await errors) {
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect(error.exitCode).to.equal(exit.code)
      expect(error.signal).to.equal(null)
    }
    expect(await killing).to.deep.equal(exit)
    expect(worker.peer.stats.pending).to.equal(0)
  })

  it('rejects pending calls with exitCode 1 and the error as cause when the worker throws an uncaught exception', async () => {
    const worker = start('crashy', { timeout: 0 })
    await worker.ready
    const hanging = worker.peer.call('hang')
    const throwing = worker.peer.call('throwLater', ['boom'])
    const [first, second] = await Promise.all([rejection(hanging), rejection(throwing)])
    for (const error of [first, second]) {
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect(error.exitCode).to.equal(1)
      expect(error.message).to.contain('exit code 1')
      expect(error.cause).to.be.instanceOf(Error)
      expect(error.cause.message).to.equal('boom')
    }
    expect(await worker.exited).to.deep.equal({ code: 1, signal: null })
  })

  it('rejects pending calls with exitCode 5 when a handler calls process.exit(5)', async () => {
    const worker = start('crashy', { timeout: 0 })
    await worker.ready
    const hanging = worker.peer.call('hang')
    const exiting = worker.peer.call('exit', [5])
    for (const error of await Promise.all([rejection(hanging), rejection(exiting)])) {
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect(error.exitCode).to.equal(5)
      expect(error.message).to.contain('exit code 5')
    }
    expect(await worker.exited).to.deep.equal({ code: 5, signal: null })
  })

  it('close() rejects pending calls, lets the worker exit by itself with code 0, and is idempotent', async () => {
    const worker = start('echo', { timeout: 0 })
    await worker.ready
    const calls = [worker.peer.call('hang'), worker.peer.call('hang')]
    expect(await worker.remote.echo(1)).to.equal(1)
    const closing = worker.close()
    expect(worker.close(), 'a second close()').to.equal(closing)
    for (const error of await Promise.all(calls.map(rejection))) expect(error).to.be.instanceOf(ChannelClosedError)
    expect(await closing).to.deep.equal({ code: 0, signal: null })
    expect(await worker.exited).to.deep.equal({ code: 0, signal: null })
    expect(await worker.close()).to.deep.equal({ code: 0, signal: null })
  })

  it('rejects the pending call with ChannelClosedError when the worker runs out of memory (resourceLimits)', async () => {
    const worker = start('crashy', { timeout: 0, resourceLimits: { maxOldGenerationSizeMb: 16 } })
    await worker.ready
    const error = await rejection(worker.peer.call('allocateForever'))
    expect(error).to.be.instanceOf(ChannelClosedError)
    const exit = await worker.exited
    expect(exit.signal).to.equal(null)
    expect(exit.code).to.be.a('number')
    expect(error.exitCode).to.equal(exit.code)
    expect(worker.peer.stats.pending).to.equal(0)
  })

  it('never rejects exited, even when the worker module cannot load: ready rejects instead', async () => {
    const worker = start('no-such-fixture')
    const notReady = await rejection(worker.ready)
    expect(notReady).to.be.instanceOf(ChannelClosedError)
    const exit = await worker.exited
    expect(exit.code).to.be.a('number').and.not.equal(0)
    expect(exit.signal).to.equal(null)
    expect(await rejection(worker.remote.echo(1))).to.be.instanceOf(ChannelClosedError)
  })

  it('rejects calls made after the worker died immediately with ChannelClosedError', async () => {
    const worker = start('echo')
    await worker.ready
    await worker.kill()
    const call = worker.peer.call('echo', [1])
    expect(call.state).to.equal('rejected')
    expect(await rejection(call)).to.be.instanceOf(ChannelClosedError)
    expect(() => worker.peer.emit('ping', 1)).to.throw(ChannelClosedError)
    expect(worker.peer.stats.pending).to.equal(0)
  })
  describe('modulePath: the same rule as spawnChild (a file URL, else a path against process.cwd())', () => {
    const url = fixture('echo')
    const absolute = fileURLToPath(url)
    const forms: [string, string | URL][] = [
      ['a URL object', url],
      ["a 'file:///...' string (which new Worker refuses with ERR_WORKER_PATH)", url.href],
      ['an absolute path', absolute],
      [`a path relative to the cwd, without ./ (${relative(process.cwd(), absolute)})`, relative(process.cwd(), absolute)],
    ]
    for (const [title, modulePath] of forms) {
      it(`starts the worker from ${title}`, async () => {
        const worker = spawnWorker<any>(modulePath)
        handles.push(worker)
        expect(await worker.remote.echo('hi')).to.equal('hi')
      })
    }
  })

  describe('start-up failures: ready (and every call held for the handshake) says why', () => {
    it('rejects with ENOENT and the path, as ChannelClosedError, when the module does not exist', async () => {
      const missing = fixture('no-such-fixture')
      const worker = start('no-such-fixture')
      const held = rejection(worker.remote.echo(1))
      const error = await rejection(worker.ready)
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect(error.message).to.contain('ENOENT').and.contain(fileURLToPath(missing))
      expect(error.cause.code).to.equal('ENOENT')
      expect((await held).message).to.equal(error.message)
    })

    it('puts the name and message of the error a worker throws at start-up in the message (and the error as cause)', async () => {
      const worker = start('throws-at-start')
      const held = rejection(worker.remote.port())
      const error = await rejection(worker.ready)
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect(error.message).to.contain('before connecting').and.contain(fileURLToPath(fixture('throws-at-start')))
      expect(error.message).to.contain('Error: throws-at-start: no port configured (E_FIXTURE_START)')
      expect(error.cause.message).to.equal('throws-at-start: no port configured (E_FIXTURE_START)')
      expect(error.exitCode).to.equal(1)
      expect((await held).message).to.equal(error.message)
    })
  })

  describe('connectParent() called twice', () => {
    it('throws RPC_INVALID_STATE in the worker while the first peer is open; only the first peer answers', async () => {
      const worker = start('connect-twice', { workerData: 'twice' })
      expect(await worker.remote.second()).to.deep.include({ threw: true, name: 'RpcError', code: 'RPC_INVALID_STATE' })
      expect(await worker.remote.who()).to.equal('first')
      expect(worker.peer.stats.dropped, 'replies from a second peer').to.equal(0)
    })

    it('is allowed again once the first peer is closed: the new peer answers', async () => {
      const worker = start('connect-twice', { workerData: 'after-close' })
      expect(await worker.remote.who()).to.equal('second')
    })
  })
})
