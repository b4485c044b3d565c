/**
 * JSON-RPC batches: treerpc peers send what one turn produces as one batch (fewer postMessages and
 * writes); any JSON-RPC 2.0 peer may send batches and gets the replies as the spec says. Order,
 * transfers, blocking calls and what-you-send-is-what-arrives hold with batches.
 */
import { expect } from 'chai'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { createMemoryPair, createPeer, IpcTransport, spawnWorker, StreamTransport, transfer, WireCode } from '../lib/index.js'
import { deferred, pair, tick, ticks, track } from './helpers.js'

const ECHO = new URL('./fixtures/echo.js', import.meta.url)
const VSCODE_PEER = fileURLToPath(new URL('./fixtures/vscode-peer.js', import.meta.url))

/** A peer served by a raw end that speaks plain JSON-RPC (no hello): what it receives, and a way to send. */
async function plainClient(expose: object) {
  const [a, b] = createMemoryPair()
  const peer = track(createPeer(b, { expose }))
  const inbox: unknown[] = []
  a.onMessage((message) => inbox.push(message))
  await tick()
  inbox.length = 0 // the peer's own hello
  return { peer, send: (message: unknown) => a.send(message), inbox, close: () => a.close() }
}

describe('JSON-RPC batches', () => {
  describe('from a plain JSON-RPC peer (the JSON-RPC 2.0 spec, section 6)', () => {
    it('handles each element and sends the replies to its requests back as one batch, after all are done', async () => {
      const slow = deferred<string>()
      const seen: unknown[] = []
      const { send, inbox, close } = await plainClient({
        add: (a: number, b: number) => a + b,
        slow: () => slow.promise,
        note: (x: unknown) => void seen.push(x),
      })
      send([
        { jsonrpc: '2.0', id: 1, method: 'add', params: [1, 2] },
        { jsonrpc: '2.0', method: 'note', params: ['hi'] },
        { jsonrpc: '2.0', id: 'two', method: 'slow' },
        { jsonrpc: '2.0', id: 3, method: 'missing' },
        { foo: 'bar' },
      ])
      await ticks(3)
      expect(seen).to.deep.equal(['hi'])
      expect(inbox, 'nothing until every request is answered').to.deep.equal([])
      slow.resolve('done')
      await ticks(3)
      expect(inbox).to.have.length(1)
      const replies = inbox[0] as any[]
      expect(Array.isArray(replies)).to.equal(true)
      const byId = new Map(replies.map((reply) => [reply.id, reply]))
      expect(byId.get(1)).to.deep.equal({ jsonrpc: '2.0', id: 1, result: 3 })
      expect(byId.get('two')).to.deep.equal({ jsonrpc: '2.0', id: 'two', result: 'done' })
      expect(byId.get(3).error.code).to.equal(WireCode.MethodNotFound)
      expect(byId.get(null).error.code).to.equal(WireCode.InvalidRequest)
      expect(replies).to.have.length(4)
      close()
    })

    it('answers an empty batch, and a batch of non-objects, with Invalid Request as the spec says', async () => {
      const { send, inbox, close } = await plainClient({})
      send([])
      await ticks(2)
      expect(inbox).to.deep.equal([{ jsonrpc: '2.0', id: null, error: { code: WireCode.InvalidRequest, message: 'Invalid request: an empty batch' } }])
      inbox.length = 0
      send([1, 2, 3])
      await ticks(2)
      const replies = inbox[0] as any[]
      expect(replies.map((reply) => [reply.id, reply.error.code])).to.deep.equal([[null, -32600], [null, -32600], [null, -32600]])
      close()
    })

    it('sends nothing back for a batch of notifications only', async () => {
      const seen: number[] = []
      const { send, inbox, close } = await plainClient({ note: (n: number) => void seen.push(n) })
      send([{ jsonrpc: '2.0', method: 'note', params: [1] }, { jsonrpc: '2.0', method: 'note', params: [2] }])
      await ticks(3)
      expect(seen).to.deep.equal([1, 2])
      expect(inbox).to.deep.equal([])
      close()
    })

    it('never sends batches to a plain peer: vscode-jsonrpc (which reads none) gets 100 calls of one turn', async () => {
      const child = fork(VSCODE_PEER, ['ipc'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' })
      const ready = deferred<number>()
      const peer = track(createPeer(new IpcTransport(child, { serialization: 'json' }), { handshake: false, expose: { fixture: { ready: (pid: number) => ready.resolve(pid) } } }))
      try {
        await ready.promise
        const sums = await Promise.all(Array.from({ length: 100 }, (_, i) => peer.remote.math.add(i, 1)))
        expect(sums.every((sum, i) => sum === i + 1)).to.equal(true)
      } finally {
        peer.close()
        if (child.exitCode === null) {
          child.kill('SIGKILL')
          await once(child, 'exit')
        }
      }
    })
  })

  describe('between treerpc peers', () => {
    it('sends what one turn produces as one message: 100 calls, then 100 replies', async () => {
      const { left, leftTransport, rightTransport } = pair({}, { expose: { echo: (x: unknown) => x } })
      await left.ready
      await tick()
      const leftSends: unknown[] = []
      const rightSends: unknown[] = []
      const leftSend = leftTransport.send.bind(leftTransport)
      const rightSend = rightTransport.send.bind(rightTransport)
      leftTransport.send = (message, t) => (leftSends.push(message), leftSend(message, t))
      rightTransport.send = (message, t) => (rightSends.push(message), rightSend(message, t))
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => left.call('echo', [i])))
      expect(results).to.deep.equal(Array.from({ length: 100 }, (_, i) => i))
      expect(leftSends).to.have.length(1)
      expect(rightSends).to.have.length(1)
      expect((leftSends[0] as unknown[]).length).to.equal(100)
    })

    it('keeps calls, notifications and events in send order across batches, over a real worker', async () => {
      const handle = spawnWorker(ECHO)
      try {
        await handle.ready
        const pongs: number[] = []
        handle.peer.on('pong', (n: number) => pongs.push(n))
        const calls: Promise<unknown>[] = []
        for (let i = 0; i < 3000; i++) {
          if (i % 3 === 0) handle.peer.emit('ping', i)
          else calls.push(handle.peer.call('echo', [i]))
        }
        const results = await Promise.all(calls)
        expect(results).to.deep.equal(Array.from({ length: 3000 }, (_, i) => i).filter((i) => i % 3 !== 0))
        while (pongs.length < 1000) await new Promise((resolve) => setTimeout(resolve, 5))
        expect(pongs).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i * 3))
      } finally {
        await handle.close()
      }
    })

    it('sends an argument as it was when sent, even if the caller changes it later in the same turn', async () => {
      const seen: unknown[] = []
      const { left } = pair({}, { expose: { note: (x: unknown) => void seen.push(structuredClone(x)) } })
      await left.ready
      const progress = { step: 0 }
      for (let i = 1; i <= 3; i++) {
        progress.step = i
        left.notify('note', progress)
        left.notify('note', i) // primitives may wait for the batch
      }
      await ticks(3)
      expect(seen).to.deep.equal([{ step: 1 }, 1, { step: 2 }, 2, { step: 3 }, 3])
    })

    it('moves transferred buffers with batches: the sender copy is detached at once, other calls unaffected', async () => {
      const handle = spawnWorker(ECHO)
      try {
        await handle.ready
        const bytes = Uint8Array.of(1, 2, 3)
        const before = handle.peer.call('echo', [1])
        const moved = handle.peer.call('echo', [transfer(bytes, [bytes.buffer])])
        expect(bytes.buffer.byteLength, 'detached as soon as it is sent').to.equal(0)
        const after = handle.peer.call('echo', [2])
        expect(await before).to.equal(1)
        expect([...(await moved as Uint8Array)]).to.deep.equal([1, 2, 3])
        expect(await after).to.equal(2)
      } finally {
        await handle.close()
      }
    })

    it('answers blocking calls on their own channel while replies of the same turn are batched', async () => {
      const handle = spawnWorker(new URL('./fixtures/sync-worker.js', import.meta.url))
      try {
        await handle.ready
        const pending = Array.from({ length: 50 }, (_, i) => handle.peer.call('math.add', [i, 1]))
        expect(handle.peer.callSync('math.add', [20, 22], { timeout: 2000 })).to.equal(42)
        expect((await Promise.all(pending)).every((sum, i) => sum === i + 1)).to.equal(true)
      } finally {
        await handle.close()
      }
    })

    it('falls back to one message at a time when a batch exceeds a stream maxMessageSize', async () => {
      const [up, down] = [new PassThrough(), new PassThrough()]
      const server = track(createPeer(new StreamTransport(up, down, { maxMessageSize: 600 }), { expose: { echo: (x: unknown) => x } }))
      const client = track(createPeer(new StreamTransport(down, up, { maxMessageSize: 600 })))
      await client.ready
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => client.call('echo', [`call ${i}`])))
      expect(results).to.deep.equal(Array.from({ length: 20 }, (_, i) => `call ${i}`))
      expect(server.stats.pending + client.stats.pending).to.equal(0)
    })
  })
})
