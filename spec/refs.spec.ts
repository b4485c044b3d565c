/**
 * Functions, ref() objects and streams by reference (README "Callbacks, objects and streams by
 * reference"), on every channel kind: memory pair, byte stream (JSON), MessagePort, worker thread,
 * child process with json and with advanced serialization. The other side serves
 * spec/fixtures/refs-api, in this process or in a real worker or child (killed in the last test).
 */
import { expect } from 'chai'
import { MessageChannel } from 'node:worker_threads'
import { PassThrough } from 'node:stream'
import {
  ChannelClosedError,
  createMemoryPair,
  createPeer,
  MessagePortTransport,
  MethodNotFoundError,
  type Peer,
  release,
  spawnChild,
  spawnWorker,
  StreamTransport,
  type Transport,
} from '../lib/index.js'
import { type RefsApi, refsApi } from './fixtures/refs-api.js'
import { rejection } from './helpers.js'

const PEER = new URL('./fixtures/refs-peer.js', import.meta.url)
const WINDOW = 128
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface Started {
  peer: Peer<RefsApi>
  /** The other side goes away mid-work: killed (worker, child) or closed (in this process). */
  kill(): Promise<unknown>
  stop(): Promise<unknown>
}

function local(make: () => [Transport, Transport]): () => Promise<Started> {
  return async () => {
    const [a, b] = make()
    const other: Peer<any> = createPeer(b, { expose: refsApi(() => other) })
    const peer = createPeer<RefsApi>(a)
    return { peer, kill: async () => other.close(), stop: async () => (peer.close(), other.close()) }
  }
}

const channels: [string, () => Promise<Started>][] = [
  ['memory pair', local(createMemoryPair)],
  [
    'byte stream (JSON)',
    local(() => {
      const [up, down] = [new PassThrough(), new PassThrough()]
      return [new StreamTransport(down, up), new StreamTransport(up, down)]
    }),
  ],
  [
    'MessagePort',
    local(() => {
      const { port1, port2 } = new MessageChannel()
      return [new MessagePortTransport(port1), new MessagePortTransport(port2)]
    }),
  ],
  [
    'worker thread',
    async () => {
      const handle = spawnWorker<RefsApi>(PEER)
      return { peer: handle.peer as Peer<RefsApi>, kill: () => handle.kill(), stop: () => handle.close() }
    },
  ],
  [
    'child process, json',
    async () => {
      const handle = spawnChild<RefsApi>(PEER, { serialization: 'json' })
      return { peer: handle.peer as unknown as Peer<RefsApi>, kill: () => handle.kill('SIGKILL'), stop: () => handle.close() }
    },
  ],
  [
    'child process, advanced',
    async () => {
      const handle = spawnChild<RefsApi>(PEER, { serialization: 'advanced' })
      return { peer: handle.peer as unknown as Peer<RefsApi>, kill: () => handle.kill('SIGKILL'), stop: () => handle.close() }
    },
  ],
]

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => i + from)

describe('callbacks, objects and streams by reference (every channel kind)', () => {
  for (const [name, start] of channels) {
    describe(name, function () {
      this.timeout(20_000)
      let peer: Peer<RefsApi>
      let kill: () => Promise<unknown>
      let stop: () => Promise<unknown>
      before(async () => {
        ;({ peer, kill, stop } = await start())
        await peer.ready
      })
      after(async () => {
        await stop()
      })

      it('calls a callback argument many times while the call runs', async () => {
        const seen: number[] = []
        expect(await peer.remote.run(100, async (i: number) => seen.push(i))).to.equal(100)
        expect(seen).to.deep.equal(range(100, 1))
      })

      it('calls a kept callback after the call returned, and many times at once', async () => {
        const got: number[] = []
        expect(await peer.remote.keep(async (n: number) => (got.push(n), n * 2))).to.equal(true)
        expect(await peer.remote.fire(21)).to.equal(42)
        expect(await peer.remote.fireMany(50)).to.deep.equal(range(50).map((n) => n * 2))
        expect(got).to.have.length(51)
      })

      it('a callback released by its holder rejects with RPC_RELEASED, and its exporter lets it go', async () => {
        const held = peer.stats.exportedRefs
        expect(held).to.be.at.least(1)
        const error = await rejection(peer.remote.releaseKept())
        expect(error.code).to.equal('RPC_RELEASED')
        expect(error.message).to.match(/function stub #\d+ was released/)
        await until(() => peer.stats.exportedRefs <= held - 1, 'the release to arrive')
      })

      it('passes an object by reference: nested namespaces, the rules of expose, release', async () => {
        const before = (await peer.remote.refStats()).exportedRefs
        const db = await peer.remote.open('x')
        expect((await peer.remote.refStats()).exportedRefs).to.equal(before + 1)
        expect(await db.users.find(1)).to.deep.equal({ id: 1, owner: 'x' })
        expect(await db.count()).to.equal(42)
        // Data members and unknown names are not methods; reserved names are not even paths.
        expect(await rejection((db as any).name())).to.be.instanceOf(MethodNotFoundError)
        expect(await rejection((db as any).nope())).to.be.instanceOf(MethodNotFoundError)
        expect((db as any).constructor).to.equal(undefined)
        expect((db as any).__proto__).to.equal(undefined)
        expect(peer.stats.importedRefs).to.be.at.least(1)
        release(db)
        expect((await rejection(db.count())).code).to.equal('RPC_RELEASED')
        await until(async () => (await peer.remote.refStats()).exportedRefs === before, 'the object to be let go')
      })

      it('streams 100,000 items to a slow consumer, the producer never more than a window ahead', async function () {
        this.timeout(60_000)
        const base = await peer.remote.produced()
        let n = 0
        for await (const item of await peer.remote.tail(100_000)) {
          if (item !== n) throw new Error(`item ${n} arrived as ${item}`)
          n++
          if (n % 20_000 === 0) {
            await sleep(30) // slow: the producer must wait for credit meanwhile
            const ahead = (await peer.remote.produced()) - base - n
            expect(ahead, `producer ahead at item ${n}`).to.be.at.most(WINDOW + 1)
          }
        }
        expect(n).to.equal(100_000)
      })

      it("the consumer's break stops the producer (its finally runs, its signal aborts)", async () => {
        const before = await peer.remote.stopped()
        const exported = (await peer.remote.refStats()).exportedRefs
        for await (const item of await peer.remote.endless()) if (item === 10) break
        await until(async () => (await peer.remote.stopped()) === before + 1, 'the producer to stop')
        await until(async () => (await peer.remote.refStats()).exportedRefs === exported, 'the stream to be let go')
        expect(peer.stats.importedRefs).to.equal(0)
      })

      it("rejects next() with the producer's error, whole", async () => {
        const items: unknown[] = []
        const error = await rejection(
          (async () => {
            for await (const item of await peer.remote.failing()) items.push(item)
          })(),
        )
        expect(items).to.deep.equal([1])
        expect(error).to.be.instanceOf(RangeError)
        expect(error).to.include({ message: 'bad item', code: 'E_BAD', at: 1 })
      })

      it('carries async iterables and ReadableStreams as arguments, and ReadableStreams as results', async () => {
        async function* numbers(): AsyncGenerator<number> {
          for (let i = 1; i <= 1000; i++) yield i
        }
        expect(await peer.remote.sum(numbers())).to.equal(500_500)
        const stream = await peer.remote.readable(10)
        expect(stream).to.be.instanceOf(ReadableStream)
        const got: number[] = []
        for await (const item of stream as unknown as AsyncIterable<number>) got.push(item)
        expect(got).to.deep.equal(range(10))
        const source = new ReadableStream<number>({
          start(controller) {
            for (let i = 1; i <= 4; i++) controller.enqueue(i)
            controller.close()
          },
        })
        expect(await peer.remote.sumStream(source)).to.deep.equal({ total: 10, isStream: true })
      })

      it('the other side dying: a waiting next() and calls through stubs reject with ChannelClosedError; the tables empty', async () => {
        const iterator = (await peer.remote.hangs())[Symbol.asyncIterator]()
        expect((await iterator.next()).value).to.equal('first')
        const waiting = iterator.next()
        const db = await peer.remote.open('y')
        await peer.remote.keep(async (n: number) => n)
        await kill()
        expect(await rejection(waiting)).to.be.instanceOf(ChannelClosedError)
        expect(await rejection(db.count())).to.be.instanceOf(ChannelClosedError)
        await until(() => peer.state === 'closed', 'the peer to close')
        expect(peer.stats.exportedRefs).to.equal(0)
        expect(peer.stats.importedRefs).to.equal(0)
      })
    })
  }
})
