import { expect } from 'chai'
import sinon from 'sinon'
import { createMemoryPair, createPeer, MethodNotFoundError, type Transport, WireCode } from '../lib/index.js'
import { deferred, pair, rejection, tick, ticks, track } from './helpers.js'

/** Traffic that is not JSON-RPC 2.0 at all: another application sharing the channel. */
const FOREIGN: unknown[] = [null, undefined, 42, 'str', [], [1, 2], {}, { jsonrpc: '1.0' }, { jsonrpc: 2 }, true, { method: 'x', id: 1 }]

/** JSON-RPC 2.0 messages that are malformed but carry no id a reply could use. */
const MALFORMED_NO_ID: unknown[] = [
  { jsonrpc: '2.0' },
  { jsonrpc: '2.0', id: 'junk-unknown', result: 1 },
  { jsonrpc: '2.0', id: 'junk-both', result: 1, error: {} },
  { jsonrpc: '2.0', id: 'junk-str-error', error: 'not an object' },
  { jsonrpc: '2.0', id: 'junk-null-error', error: null },
  { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'x' } },
  { jsonrpc: '2.0', method: 5 },
  { jsonrpc: '2.0', method: 'rpc.unknown' },
  { jsonrpc: '2.0', method: 'rpc.cancel', params: { id: 'nothing' } },
  { jsonrpc: '2.0', method: 'rpc.cancel', params: 5 },
  { jsonrpc: '2.0', method: 'rpc.hello', params: 5 },
]

/** A peer over end B of a memory pair, opened by a hello from the raw end A, whose messages the test reads. */
async function rawPeer(expose: object = {}) {
  const [a, b] = createMemoryPair()
  const peer = track(createPeer(b, { expose }))
  const inbox: any[] = []
  a.onMessage((message) => inbox.push(message))
  const errors: unknown[] = []
  peer.on('error', (error) => errors.push(error))
  a.send({ jsonrpc: '2.0', method: 'rpc.hello', params: { v: 1, peer: 'raw', ack: true } })
  await peer.ready
  await tick()
  /** Replies (messages with an id) received by the raw end. */
  const replies = (): any[] => inbox.filter((message) => message !== null && typeof message === 'object' && 'id' in message && !('method' in message))
  return { raw: a, peer, inbox, replies, errors }
}

describe('garbage on the channel', () => {
  it('ignores foreign traffic without counting it in stats.received or replying', async () => {
    const { raw, peer, inbox, errors } = await rawPeer({ echo: (x: unknown) => x })
    const before = { ...peer.stats }
    const seen = inbox.length
    for (const message of FOREIGN) raw.send(message)
    await ticks(3)
    expect(peer.stats.received).to.equal(before.received)
    expect(peer.stats.dropped).to.equal(before.dropped)
    expect(inbox.length).to.equal(seen)
    expect(errors).to.deep.equal([])
    expect(peer.state).to.equal('open')
    raw.close()
  })

  it('counts malformed JSON-RPC without a usable id as received and dropped, and never throws or closes', async () => {
    const { raw, peer, replies, errors } = await rawPeer({ echo: (x: unknown) => x })
    const before = { ...peer.stats }
    for (const message of MALFORMED_NO_ID) raw.send(message)
    raw.send({ jsonrpc: '2.0', id: 'after', method: 'echo', params: ['still serving'] })
    await ticks(3)
    expect(peer.stats.received).to.equal(before.received + MALFORMED_NO_ID.length + 1)
    expect(peer.stats.dropped).to.be.at.least(before.dropped + MALFORMED_NO_ID.length - 2)
    expect(replies().filter((r) => r.id !== null)).to.deep.equal([{ jsonrpc: '2.0', id: 'after', result: 'still serving' }])
    expect(errors).to.deep.equal([])
    expect(peer.state).to.equal('open')
    raw.close()
  })

  it('answers malformed requests that carry a usable id with the right JSON-RPC error code, never running a handler', async () => {
    const echo = sinon.spy((x: unknown) => x)
    const { raw, peer, replies, errors } = await rawPeer({ echo })
    raw.send({ jsonrpc: '2.0', method: 5, id: 1 })
    raw.send({ jsonrpc: '2.0', method: null, id: 2 })
    raw.send({ jsonrpc: '2.0', id: 3, method: 'echo', params: 5 })
    raw.send({ jsonrpc: '2.0', id: 4, method: 'echo', params: 'str' })
    raw.send({ jsonrpc: '2.0', id: 5, method: 'echo', params: null })
    raw.send({ jsonrpc: '2.0', id: 6, method: 'echo', params: true })
    raw.send({ jsonrpc: '2.0', id: 8, method: 'x', params: 5 })
    raw.send({ jsonrpc: '2.0', id: 'm', method: 'missing' })
    raw.send({ jsonrpc: '2.0', id: 'r', method: 'rpc.hello' })
    await ticks(3)
    const byId = new Map(replies().map((r) => [r.id, r]))
    const code = (id: unknown): unknown => byId.get(id)?.error?.code
    expect(code(1)).to.equal(WireCode.InvalidRequest)
    expect(code(1)).to.equal(-32600)
    expect(code(2)).to.equal(-32600)
    for (const id of [3, 4, 5, 6, 8]) expect(code(id), `id ${id}`).to.equal(WireCode.InvalidParams)
    expect(code(3)).to.equal(-32602)
    expect(code('m')).to.equal(WireCode.MethodNotFound)
    expect(code('r')).to.equal(WireCode.MethodNotFound)
    for (const reply of byId.values()) {
      expect(reply.jsonrpc).to.equal('2.0')
      expect(reply.error.message).to.be.a('string')
      expect(reply).not.to.have.property('result')
    }
    expect(echo.called).to.equal(false)
    expect(errors).to.deep.equal([])
    expect(peer.state).to.equal('open')
    raw.close()
  })

  it('answers a request whose id is not a string or finite number with -32600 and a null id', async () => {
    const echo = sinon.spy()
    const { raw, peer, replies } = await rawPeer({ echo })
    raw.send({ jsonrpc: '2.0', id: {}, method: 'echo' })
    raw.send({ jsonrpc: '2.0', id: [1], method: 'echo' })
    raw.send({ jsonrpc: '2.0', id: true, method: 'echo' })
    raw.send({ jsonrpc: '2.0', id: Infinity, method: 'echo' })
    await ticks(3)
    const all = replies()
    expect(all).to.have.length(4)
    for (const reply of all) {
      expect(reply.id).to.equal(null)
      expect(reply.error.code).to.equal(-32600)
    }
    expect(echo.called).to.equal(false)
    expect(peer.state).to.equal('open')
    raw.close()
  })

  it('drops responses for unknown, settled or duplicated ids, counting them, and never settles another call with them', async () => {
    const { raw, peer, inbox, errors } = await rawPeer()
    const first = peer.call('ask', ['first'])
    const second = peer.call('ask', ['second'])
    await tick()
    const requests = inbox.filter((m) => m?.method === 'ask')
    expect(requests.map((r) => r.params)).to.deep.equal([['first'], ['second']])
    const dropped = peer.stats.dropped
    raw.send({ jsonrpc: '2.0', id: 999_999, result: 'unknown id' })
    raw.send({ jsonrpc: '2.0', id: String(first.id), result: 'id as a string is another id' })
    raw.send({ jsonrpc: '2.0', id: first.id, result: 'answer 1' })
    raw.send({ jsonrpc: '2.0', id: first.id, result: 'duplicate' })
    raw.send({ jsonrpc: '2.0', id: first.id, error: { code: -32000, message: 'duplicate error' } })
    raw.send({ jsonrpc: '2.0', id: 888_888, result: 1, error: {} })
    raw.send({ jsonrpc: '2.0', id: 777_777, error: 'not an object' })
    await ticks(3)
    expect(await first).to.equal('answer 1')
    expect(second.state).to.equal('pending')
    expect(peer.stats.dropped).to.equal(dropped + 6)
    raw.send({ jsonrpc: '2.0', id: second.id, result: 'answer 2' })
    expect(await second).to.equal('answer 2')
    expect(errors).to.deep.equal([])
    expect(peer.state).to.equal('open')
    raw.close()
  })

  it('answers a request that reuses an id still in flight with -32600, while the original still gets its result', async () => {
    const gate = deferred<string>()
    const echo = sinon.spy((x: unknown) => x)
    const { raw, peer, replies } = await rawPeer({ slow: () => gate.promise, echo })
    raw.send({ jsonrpc: '2.0', id: 7, method: 'slow' })
    raw.send({ jsonrpc: '2.0', id: 7, method: 'echo', params: ['crossed'] })
    await ticks(3)
    expect(replies()).to.have.length(1)
    expect(replies()[0]).to.deep.include({ jsonrpc: '2.0', id: 7 })
    expect(replies()[0].error.code).to.equal(-32600)
    expect(echo.called).to.equal(false)
    gate.resolve('original result')
    await ticks(3)
    expect(replies()).to.have.length(2)
    expect(replies()[1]).to.deep.equal({ jsonrpc: '2.0', id: 7, result: 'original result' })
    // Once settled, the id may be used again.
    raw.send({ jsonrpc: '2.0', id: 7, method: 'echo', params: ['again'] })
    await ticks(3)
    expect(replies()[2]).to.deep.equal({ jsonrpc: '2.0', id: 7, result: 'again' })
    expect(peer.stats.active).to.equal(0)
    raw.close()
  })

  it('keeps concurrent calls in both directions succeeding while junk is injected both ways', async () => {
    const api = {
      async slowAdd(a: number, b: number) {
        await new Promise((resolve) => setImmediate(resolve))
        return a + b
      },
    }
    const { left, right, leftTransport, rightTransport } = pair({ expose: api }, { expose: api })
    const errors: unknown[] = []
    left.on('error', (error) => errors.push(error))
    right.on('error', (error) => errors.push(error))
    const calls = [
      ...Array.from({ length: 100 }, (_, i) => left.remote.slowAdd(i, 1)),
      ...Array.from({ length: 100 }, (_, i) => right.remote.slowAdd(i, 2)),
    ]
    const junk = [
      ...FOREIGN,
      ...MALFORMED_NO_ID,
      { jsonrpc: '2.0', method: 5, id: 'junk-1' },
      { jsonrpc: '2.0', id: {}, method: 'x' },
      { jsonrpc: '2.0', id: 'junk-2', method: 'slowAdd', params: 5 },
      { jsonrpc: '2.0', id: 'junk-3', method: 'nothing' },
    ]
    for (const message of junk) {
      leftTransport.send(message)
      rightTransport.send(message)
    }
    const results = await Promise.all(calls)
    expect(results).to.deep.equal([...Array.from({ length: 100 }, (_, i) => i + 1), ...Array.from({ length: 100 }, (_, i) => i + 2)])
    await ticks(3)
    expect(left.state).to.equal('open')
    expect(right.state).to.equal('open')
    expect(errors).to.deep.equal([])
    expect(await left.remote.slowAdd(1, 1)).to.equal(2)
  })

  describe('deep nesting', () => {
    /** A transport that hands messages to the peer as they are, without cloning (structuredClone itself overflows at this depth). */
    function directTransport() {
      let deliver: (message: unknown) => void = () => {}
      const sent: any[] = []
      const transport: Transport = {
        send: (message) => void sent.push(message),
        onMessage: (listener) => void (deliver = listener),
        onClose: () => {},
        close: () => {},
      }
      return { transport, deliver: (message: unknown) => deliver(message), sent }
    }

    function nestedArrays(depth: number): unknown[] {
      const root: unknown[] = []
      let node = root
      for (let i = 1; i < depth; i++) {
        const next: unknown[] = []
        node.push(next)
        node = next
      }
      return root
    }

    function depthOf(value: unknown): number {
      let depth = 0
      for (let node = value; Array.isArray(node); node = node[0]) depth++
      return depth
    }

    it('survives 10,000-deep params in requests, notifications and error data without crashing the listener', async () => {
      const { transport, deliver, sent } = directTransport()
      const peer = track(createPeer(transport, { expose: { depth: depthOf } }))
      const errors: unknown[] = []
      peer.on('error', (error) => errors.push(error))
      deliver({ jsonrpc: '2.0', method: 'rpc.hello', params: { v: 1, peer: 'raw', ack: true } })
      await peer.ready
      const deep = nestedArrays(10_000)
      expect(() => deliver({ jsonrpc: '2.0', id: 1, method: 'depth', params: [deep] })).not.to.throw()
      expect(() => deliver({ jsonrpc: '2.0', id: 2, method: 'missing', params: [deep] })).not.to.throw()
      expect(() => deliver({ jsonrpc: '2.0', id: 3, method: 'depth', params: deep })).not.to.throw()
      expect(() => deliver({ jsonrpc: '2.0', method: 'missing', params: [deep] })).not.to.throw()
      expect(() => deliver({ jsonrpc: '2.0', method: 'rpc.event', params: ['deep', deep] })).not.to.throw()
      // An error response whose data nests 10,000 causes deep.
      const call = peer.call('remote')
      const failure = rejection(call)
      let data: Record<string, unknown> = { name: 'E', message: 'bottom' }
      for (let i = 0; i < 10_000; i++) data = { name: 'E', message: `level ${i}`, cause: data }
      expect(() => deliver({ jsonrpc: '2.0', id: call.id, error: { code: -32000, message: 'deep', data } })).not.to.throw()
      const error = await failure
      expect(error).to.be.instanceOf(Error)
      expect(error.message).to.equal('level 9999')
      await ticks(3)
      const replies = new Map(sent.filter((m) => 'id' in m && !('method' in m)).map((m) => [m.id, m]))
      expect(replies.get(1)?.result).to.equal(10_000)
      expect(replies.get(2)?.error?.code).to.equal(WireCode.MethodNotFound)
      expect(replies.get(3)?.result).to.equal(9_999)
      expect(errors).to.have.length(1)
      expect(errors[0]).to.be.instanceOf(MethodNotFoundError)
      expect(peer.state).to.equal('open')
    })

    it('carries nesting that structured clone accepts through the memory pair', async () => {
      const { left } = pair({}, { expose: { depth: depthOf } })
      expect(await left.call('depth', [nestedArrays(1000)])).to.equal(1000)
    })
  })

  it('treats a raw end that closes mid-call as a closed channel, rejecting the call', async () => {
    const [a, b] = createMemoryPair()
    const peer = track(createPeer(b))
    a.onMessage(() => {})
    a.send({ jsonrpc: '2.0', method: 'rpc.hello', params: { v: 1, peer: 'raw', ack: true } })
    await peer.ready
    const failure = rejection(peer.call('never'))
    await tick()
    a.close()
    expect((await failure).code).to.equal('RPC_CHANNEL_CLOSED')
    expect(peer.state).to.equal('closed')
  })
})
