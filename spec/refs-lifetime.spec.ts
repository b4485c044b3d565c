/**
 * Lifetimes and limits of references (lib/refs.ts) over a memory pair: the garbage collector's
 * releases (mocha runs with --expose-gc), Symbol.dispose, counted sends, maxRefs, a stream's per-item
 * timeout, forged reference paths, and plain JSON-RPC peers (which get no references).
 */
import { expect } from 'chai'
import { BusyError, callContext, createMemoryPair, createPeer, MethodNotFoundError, type Peer, ref, release, spawnWorker, TimeoutError } from '../lib/index.js'
import { pair, rejection } from './helpers.js'

const gc = (globalThis as { gc?: () => void }).gc
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    // FinalizationRegistry callbacks run some time after a collection: collect, then give them turns.
    gc?.()
    await sleep(10)
  }
}

describe('references: lifetimes and limits', () => {
  it('a stub the garbage collector reclaims is released, and its exporter lets the function go', async function () {
    if (gc === undefined) this.skip()
    let held: unknown
    const { left, right } = pair({}, { expose: { hold: (fn: unknown) => void (held = fn) } })
    await left.remote.hold(() => 1)
    expect(left.stats.exportedRefs).to.equal(1)
    expect(right.stats.importedRefs).to.equal(1)
    held = undefined
    await until(() => left.stats.exportedRefs === 0 && right.stats.importedRefs === 0, 'the collected stub to be released')
    void held
  })

  it('an abandoned stream (its stub collected, never returned) stops its producer', async function () {
    if (gc === undefined) this.skip()
    let stopped = 0
    const { left, right } = pair(
      {},
      {
        expose: {
          async *items() {
            try {
              for (let i = 0; ; i++) yield i
            } finally {
              stopped++
            }
          },
        },
      },
    )
    await (async () => {
      const iterator = (await left.remote.items())[Symbol.asyncIterator]()
      expect((await iterator.next()).value).to.equal(0)
    })()
    expect(right.stats.exportedRefs).to.equal(1)
    await until(() => stopped === 1 && right.stats.exportedRefs === 0 && left.stats.importedRefs === 0, 'the abandoned stream to stop')
  })

  it('Symbol.dispose releases a function stub and a ref() object stub', async () => {
    const { left, right } = pair({}, { expose: { fn: () => (x: number) => x + 1, obj: () => ref({ ping: () => 'pong' }) } })
    const fn = await left.remote.fn()
    const obj = await left.remote.obj()
    expect(await fn(1)).to.equal(2)
    expect(await obj.ping()).to.equal('pong')
    ;(fn as unknown as Disposable)[Symbol.dispose]()
    ;(obj as unknown as Disposable)[Symbol.dispose]()
    expect((await rejection(fn(1))).code).to.equal('RPC_RELEASED')
    expect((await rejection(obj.ping())).code).to.equal('RPC_RELEASED')
    await until(() => right.stats.exportedRefs === 0, 'the releases')
  })

  it('counts sends: the same function sent twice is one export, freed once the holder releases it', async () => {
    const stubs: unknown[] = []
    const { left, right } = pair({}, { expose: { hold: (fn: unknown) => void stubs.push(fn) } })
    const callback = (): string => 'same'
    await left.remote.hold(callback)
    await left.remote.hold(callback)
    expect(left.stats.exportedRefs).to.equal(1)
    expect(stubs[0]).to.equal(stubs[1]) // one stub on the other side too
    release(stubs[0])
    await until(() => left.stats.exportedRefs === 0 && right.stats.importedRefs === 0, 'both sends to be given back')
  })

  it('maxRefs: a call carrying one reference too many fails at once with BusyError; the channel goes on', async () => {
    const { left } = pair({ maxRefs: 2 }, { expose: { take: (...fns: unknown[]) => fns.length } })
    const error = await rejection(left.remote.take(() => 1, () => 2, () => 3))
    expect(error).to.be.instanceOf(BusyError)
    expect(error.message).to.match(/options\.maxRefs/)
    expect(left.stats.pending).to.equal(0)
    expect(await left.remote.take(() => 1)).to.equal(1)
  })

  it('spawnWorker passes the reference options (maxRefs, streamWindow) to its peer', async function () {
    this.timeout(10_000)
    const handle = spawnWorker(new URL('./fixtures/refs-peer.js', import.meta.url), { maxRefs: 1, streamWindow: 4 })
    try {
      await handle.ready
      expect(await rejection(handle.peer.call('run', [1, ref({ a: () => 1 }), () => 2]))).to.be.instanceOf(BusyError)
      let n = 0
      for await (const item of (await handle.peer.call('tail', [10])) as AsyncIterable<number>) n += item
      expect(n).to.equal(45)
    } finally {
      await handle.close()
    }
  })

  it("a stream's timeout applies to each item's wait: a slow item rejects next() with TimeoutError and stops the producer", async () => {
    let stopped = false
    const { left } = pair(
      { timeout: 200 },
      {
        expose: {
          async *slow() {
            const { signal } = callContext()
            try {
              yield 'fast'
              await sleep(150)
              yield 'within its own timeout'
              await new Promise((resolve) => signal.addEventListener('abort', resolve))
            } finally {
              stopped = true
            }
          },
        },
      },
    )
    const iterator = (await left.remote.slow())[Symbol.asyncIterator]()
    expect((await iterator.next()).value).to.equal('fast')
    expect((await iterator.next()).value).to.equal('within its own timeout')
    expect(await rejection(iterator.next())).to.be.instanceOf(TimeoutError)
    await until(() => stopped, 'the producer to stop')
  })

  it('an item that cannot be sent ends the stream with RPC_UNSENDABLE, after the items before it', async () => {
    const { left } = pair(
      {},
      {
        expose: {
          async *items() {
            yield 1
            yield 2
            yield Symbol('no')
            yield 4
          },
        },
      },
    )
    const got: unknown[] = []
    const error = await rejection(
      (async () => {
        for await (const item of await left.remote.items()) got.push(item)
      })(),
    )
    expect(got).to.deep.equal([1, 2])
    expect(error.code).to.equal('RPC_UNSENDABLE')
    expect(error.message).to.match(/An item of stream #\d+ could not be sent: .*a symbol cannot be sent/)
  })

  it('refuses forged reference paths: unknown ids, paths inside a function, reserved names', async () => {
    const { left } = pair({}, { expose: { obj: () => ref({ ping: () => 'pong', nested: { deep: () => 'deep' } }) } })
    const obj = await left.remote.obj()
    expect(await obj.nested.deep()).to.equal('deep')
    for (const path of ['rpc.ref.999', 'rpc.ref.1.nope', 'rpc.ref.1.__proto__', 'rpc.ref.1.constructor', 'rpc.ref.1.ping.call', 'rpc.ref.x', 'rpc.ref.']) {
      expect(await rejection(left.call(path)), path).to.be.instanceOf(MethodNotFoundError)
    }
  })

  it('a plain JSON-RPC peer gets no references: a function fails at once with RPC_UNSENDABLE', async () => {
    const [a, b] = createMemoryPair()
    const plain: Peer<any> = createPeer(a, { handshake: false })
    const other = createPeer(b, { handshake: false, expose: { take: () => 1 } })
    try {
      const error = await rejection(plain.remote.take(() => 1))
      expect(error.code).to.equal('RPC_UNSENDABLE')
      expect(error.message).to.match(/args\[0\]: a function cannot be sent to a plain JSON-RPC peer/)
      expect(plain.stats.exportedRefs).to.equal(0)
    } finally {
      plain.close()
      other.close()
    }
  })
})
