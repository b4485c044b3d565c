/**
 * Zero-copy transfer with `transfer(value, [value.buffer])`: as a call argument and as a handler's
 * result, over a real worker (spawnWorker), real MessageChannels (NodePortTransport and the standard
 * MessagePortTransport), a pool; and over a child process, where the mark is ignored and data copied.
 */
import { expect } from 'chai'
import { MessageChannel, type MessagePort as NodeMessagePort } from 'node:worker_threads'
import {
  type ChildHandle,
  createPeer,
  createPool,
  MessagePortTransport,
  NodePortTransport,
  type Pool,
  spawnChild,
  spawnWorker,
  type StandardMessagePort,
  transfer,
  type Transport,
  type WorkerHandle,
} from '../lib/index.js'
import type { PoolMemberApi } from './fixtures/pool-member.js'
import { closeTracked, track } from './helpers.js'

const MEMBER = new URL('./fixtures/pool-member.js', import.meta.url)

/** `n` patterned bytes, and the sum the receiver should compute. */
function patterned(n: number): { bytes: Uint8Array<ArrayBuffer>; sum: number } {
  const bytes = new Uint8Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) {
    bytes[i] = (i * 7) % 256
    sum += bytes[i]!
  }
  return { bytes, sum }
}

/** What the fixture's makeBytes(n) returns. */
function expectMade(bytes: unknown, n: number): void {
  expect(bytes).to.be.instanceOf(Uint8Array)
  const made = bytes as Uint8Array
  expect(made.byteLength).to.equal(n)
  for (let i = 0; i < n; i += 97) expect(made[i]).to.equal(i % 251)
  expect(made[n - 1]).to.equal((n - 1) % 251)
}

const SIZE = 64 * 1024

describe('zero-copy transfer (transfer())', () => {
  let workers: WorkerHandle<any>[] = []
  let children: ChildHandle<any>[] = []
  let pools: Pool<any>[] = []
  let ports: NodeMessagePort[] = []

  afterEach(async () => {
    const running = workers
    const forked = children
    const pooled = pools
    workers = []
    children = []
    pools = []
    try {
      await closeTracked()
    } finally {
      for (const port of ports) port.close()
      ports = []
      await Promise.all([
        ...running.map((handle) => handle.kill()),
        ...forked.map((handle) => handle.kill('SIGKILL')),
        ...pooled.map((pool) => pool.close()),
      ])
    }
  })

  describe('over a worker (spawnWorker)', () => {
    it("moves a marked call argument: the sender's buffer is detached, the worker gets the bytes", async () => {
      const worker = spawnWorker<PoolMemberApi>(MEMBER)
      workers.push(worker)
      await worker.ready
      const { bytes, sum } = patterned(SIZE)
      const call = worker.remote.sum(transfer(bytes, [bytes.buffer]))
      // Sent at once (the peer is open): the buffer has already moved.
      expect(bytes.byteLength).to.equal(0)
      expect(bytes.buffer.byteLength).to.equal(0)
      expect(await call).to.deep.equal({ kind: 'Uint8Array', length: SIZE, sum })
    })

    it('moves a marked argument held until the handshake, once it is sent', async () => {
      const worker = spawnWorker<PoolMemberApi>(MEMBER)
      workers.push(worker)
      const { bytes, sum } = patterned(SIZE)
      const result = await worker.remote.sum(transfer(bytes, [bytes.buffer]))
      expect(result).to.deep.equal({ kind: 'Uint8Array', length: SIZE, sum })
      expect(bytes.buffer.byteLength).to.equal(0)
    })

    it("moves a marked handler result: the worker's buffer is detached, the parent gets the bytes", async () => {
      const worker = spawnWorker<PoolMemberApi>(MEMBER)
      workers.push(worker)
      const made = await worker.remote.makeBytes(SIZE)
      expectMade(made, SIZE)
      expect(await worker.remote.lastMadeByteLength()).to.equal(0)
    })

    it('copies what is not marked: both sides keep their bytes', async () => {
      const worker = spawnWorker<PoolMemberApi>(MEMBER)
      workers.push(worker)
      const { bytes, sum } = patterned(SIZE)
      expect(await worker.remote.sum(bytes)).to.deep.equal({ kind: 'Uint8Array', length: SIZE, sum })
      expect(bytes.byteLength).to.equal(SIZE)
    })
  })

  const ends: [string, (port: NodeMessagePort) => Transport][] = [
    ['NodePortTransport', (port) => new NodePortTransport(port)],
    ['MessagePortTransport (standard web port)', (port) => new MessagePortTransport(port as unknown as StandardMessagePort)],
  ]
  for (const [name, make] of ends) {
    describe(`over a real MessageChannel with ${name}`, () => {
      function connect() {
        const { port1, port2 } = new MessageChannel()
        ports.push(port1, port2)
        let kept: Uint8Array | undefined
        const serverApi = {
          sum(bytes: Uint8Array) {
            let sum = 0
            for (const byte of bytes) sum += byte
            return { kind: Object.prototype.toString.call(bytes).slice(8, -1), length: bytes.byteLength, sum }
          },
          makeBytes(n: number) {
            const bytes = new Uint8Array(n)
            for (let i = 0; i < n; i++) bytes[i] = i % 251
            kept = bytes
            return transfer(bytes, [bytes.buffer])
          },
        }
        const client = track(createPeer<typeof serverApi>(make(port1)))
        track(createPeer(make(port2), { expose: serverApi }))
        return { client, kept: () => kept }
      }

      it("moves a marked call argument: the sender's buffer is detached, the other end gets the bytes", async () => {
        const { client } = connect()
        await client.ready
        const { bytes, sum } = patterned(SIZE)
        const result = await client.remote.sum(transfer(bytes, [bytes.buffer]))
        expect(result).to.deep.equal({ kind: 'Uint8Array', length: SIZE, sum })
        expect(bytes.buffer.byteLength).to.equal(0)
      })

      it("moves a marked handler result: the handler's buffer is detached, the caller gets the bytes", async () => {
        const { client, kept } = connect()
        const made = await client.remote.makeBytes(SIZE)
        expectMade(made, SIZE)
        expect(kept()).to.be.instanceOf(Uint8Array)
        expect(kept()!.buffer.byteLength).to.equal(0)
      })
    })
  }

  describe('in a pool (createPool)', () => {
    it('moves marked arguments to members and marked results back from them', async () => {
      const pool = createPool<PoolMemberApi>(MEMBER, { size: 2 })
      pools.push(pool)
      await pool.ready
      const { bytes, sum } = patterned(SIZE)
      const call = pool.call('sum', [transfer(bytes, [bytes.buffer])])
      expect(bytes.buffer.byteLength).to.equal(0)
      expect(await call).to.deep.equal({ kind: 'Uint8Array', length: SIZE, sum })
      // Through the typed proxy too.
      const second = patterned(SIZE)
      expect(await pool.remote.sum(transfer(second.bytes, [second.bytes.buffer]))).to.deep.equal({ kind: 'Uint8Array', length: SIZE, sum: second.sum })
      expect(second.bytes.buffer.byteLength).to.equal(0)
      // A result: the member that made it no longer has its buffer.
      const made = await pool.remote.makeBytes(SIZE)
      expectMade(made, SIZE)
      const lengths = await pool.broadcast<number>('lastMadeByteLength')
      const values = lengths.map((r) => (r as PromiseFulfilledResult<number>).value)
      expect(values).to.include(0)
      expect(values.every((v) => v === 0 || v === -1)).to.equal(true)
    })
  })

  describe("over a child process (spawnChild, serialization 'advanced')", () => {
    it("ignores the mark and copies: the sender's buffer is not detached, the child gets the bytes", async () => {
      const child = spawnChild<PoolMemberApi>(MEMBER, { serialization: 'advanced' })
      children.push(child)
      await child.ready
      const { bytes, sum } = patterned(SIZE)
      const result = await child.remote.sum(transfer(bytes, [bytes.buffer]))
      expect(result).to.deep.equal({ kind: 'Uint8Array', length: SIZE, sum })
      expect(bytes.byteLength).to.equal(SIZE)
      expect(bytes.buffer.byteLength).to.equal(SIZE)
      expect(bytes[SIZE - 1]).to.equal(((SIZE - 1) * 7) % 256)
    })

    it("copies a marked handler result: the child keeps its buffer, the parent gets the bytes", async () => {
      const child = spawnChild<PoolMemberApi>(MEMBER, { serialization: 'advanced' })
      children.push(child)
      const made = await child.remote.makeBytes(SIZE)
      expectMade(made, SIZE)
      expect(await child.remote.lastMadeByteLength()).to.equal(SIZE)
    })
  })
})
