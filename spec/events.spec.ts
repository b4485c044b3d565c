import { expect } from 'chai'
import { createMemoryPair, createPeer, ErrorCode, MethodNotFoundError, RpcError } from '../lib/index.js'
import { deferred, pair, tick, ticks, track } from './helpers.js'

/** Resolves with the first `n` payloads of `name` received by `peer`. */
function collect(peer: { on(name: string, listener: (...args: any[]) => void): () => void }, name: string, n: number): Promise<unknown[][]> {
  const done = deferred<unknown[][]>()
  const seen: unknown[][] = []
  const off = peer.on(name, (...args) => {
    seen.push(args)
    if (seen.length === n) {
      off()
      done.resolve(seen)
    }
  })
  return done.promise
}

describe('events', () => {
  it('delivers emit() on one side to on() on the other, in both directions, with all arguments', async () => {
    const { left, right } = pair()
    const atRight = collect(right, 'greet', 1)
    const atLeft = collect(left, 'reply', 1)
    left.emit('greet', 'hello', { n: 1 }, [2])
    right.emit('reply', 'hi')
    expect(await atRight).to.deep.equal([['hello', { n: 1 }, [2]]])
    expect(await atLeft).to.deep.equal([['hi']])
  })

  it('keeps send order over 1,000 events', async () => {
    const { left, right } = pair()
    const received = collect(right, 'n', 1000)
    for (let i = 0; i < 1000; i++) left.emit('n', i)
    const seen = await received
    expect(seen.map(([i]) => i)).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i))
  })

  it('keeps send order between events, notifications and calls', async () => {
    const order: unknown[] = []
    const { left, right } = pair()
    right.handle('note', (x: unknown) => void order.push(['note', x]))
    right.handle('call', (x: unknown) => void order.push(['call', x]))
    right.on('event', (x: unknown) => void order.push(['event', x]))
    left.emit('event', 1)
    left.notify('note', 2)
    left.emit('event', 3)
    await left.call('call', [4])
    expect(order).to.deep.equal([['event', 1], ['note', 2], ['event', 3], ['call', 4]])
  })

  it('returns an unsubscribe from on() that stops delivery', async () => {
    const { left, right } = pair()
    const seen: unknown[] = []
    const off = right.on('tick', (x) => seen.push(x))
    const all = collect(right, 'tick', 2)
    left.emit('tick', 1)
    await ticks(2)
    off()
    left.emit('tick', 2)
    await all
    expect(seen).to.deep.equal([1])
    off() // twice is harmless
  })

  it('supports once() and off()', async () => {
    const { left, right } = pair()
    const once: unknown[] = []
    const kept: unknown[] = []
    const listener = (x: unknown) => kept.push(x)
    right.once('e', (x) => once.push(x))
    right.on('e', listener)
    const all = collect(right, 'e', 2)
    left.emit('e', 1)
    left.emit('e', 2)
    await all
    right.off('e', listener)
    const third = collect(right, 'e', 1)
    left.emit('e', 3)
    await third
    expect(once).to.deep.equal([1])
    expect(kept).to.deep.equal([1, 2])
  })

  for (const name of ['open', 'close', 'error']) {
    it(`refuses to emit the lifecycle event '${name}' with RPC_INVALID_ARGUMENT`, () => {
      const { left } = pair()
      const sent = left.stats.sent
      let thrown: any
      try {
        left.emit(name, 'x')
      } catch (error) {
        thrown = error
      }
      expect(thrown).to.be.instanceOf(RpcError)
      expect(thrown.code).to.equal(ErrorCode.InvalidArgument)
      expect(thrown.code).to.equal('RPC_INVALID_ARGUMENT')
      expect(left.stats.sent).to.equal(sent)
    })
  }

  it('drops a lifecycle event sent as a raw rpc.event by the other side', async () => {
    const [a, b] = createMemoryPair()
    const right = track(createPeer(b))
    a.send({ jsonrpc: '2.0', method: 'rpc.hello', params: { v: 1, peer: 'raw', ack: true } })
    await right.ready
    const lifecycle: string[] = []
    for (const name of ['open', 'close', 'error']) right.on(name, () => lifecycle.push(name))
    const dropped = right.stats.dropped
    a.send({ jsonrpc: '2.0', method: 'rpc.event', params: ['close', { reason: 'spoofed' }] })
    a.send({ jsonrpc: '2.0', method: 'rpc.event', params: ['open'] })
    a.send({ jsonrpc: '2.0', method: 'rpc.event', params: ['error', { message: 'spoofed' }] })
    a.send({ jsonrpc: '2.0', method: 'rpc.event', params: 'not an array' })
    a.send({ jsonrpc: '2.0', method: 'rpc.event', params: [42] })
    const ping = collect(right, 'ping', 1)
    a.send({ jsonrpc: '2.0', method: 'rpc.event', params: ['ping', 1] })
    expect(await ping).to.deep.equal([[1]])
    expect(lifecycle).to.deep.equal([])
    expect(right.state).to.equal('open')
    expect(right.stats.dropped).to.equal(dropped + 5)
    a.close()
  })

  it('delivers raw events named like Object.prototype members to no one, and pollutes nothing', async () => {
    const [a, b] = createMemoryPair()
    const right = track(createPeer(b))
    a.send({ jsonrpc: '2.0', method: 'rpc.hello', params: { v: 1, peer: 'raw', ack: true } })
    await right.ready
    const errors: unknown[] = []
    right.on('error', (error) => errors.push(error))
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__']) {
      a.send({ jsonrpc: '2.0', method: 'rpc.event', params: [name, { polluted: 1 }] })
    }
    const ping = collect(right, 'ping', 1)
    a.send({ jsonrpc: '2.0', method: 'rpc.event', params: ['ping'] })
    await ping
    expect(errors).to.deep.equal([])
    expect(({} as { polluted?: unknown }).polluted).to.equal(undefined)
    expect(right.state).to.equal('open')
    // A listener may still use such a name on purpose.
    const named = collect(right, 'constructor', 1)
    a.send({ jsonrpc: '2.0', method: 'rpc.event', params: ['constructor', 1] })
    expect(await named).to.deep.equal([[1]])
    a.close()
  })

  it('refuses to emit a name that is not a string', () => {
    const { left } = pair()
    expect(() => left.emit(5 as unknown as string)).to.throw(RpcError)
  })

  it('emits error locally when a listener throws, leaving the sender unaffected', async () => {
    const { left, right } = pair({}, { expose: { echo: (x: unknown) => x } })
    const boom = new Error('listener failed')
    right.on('bad', () => {
      throw boom
    })
    const rightErrors = collect(right, 'error', 1)
    const leftErrors: unknown[] = []
    left.on('error', (error) => leftErrors.push(error))
    left.emit('bad')
    expect(await rightErrors).to.deep.equal([[boom]])
    // Both sides keep working, and nothing went back to the sender.
    expect(await left.call('echo', ['still fine'])).to.equal('still fine')
    const after = collect(right, 'good', 1)
    left.emit('good', 1)
    expect(await after).to.deep.equal([[1]])
    expect(leftErrors).to.deep.equal([])
    expect(left.state).to.equal('open')
    expect(right.state).to.equal('open')
  })
})

describe('notifications', () => {
  it('run the handler with no reply and no pending entry', async () => {
    const ran = deferred<unknown[]>()
    const { left, right } = pair({}, { expose: { log: (...args: unknown[]) => ran.resolve(args) } })
    await Promise.all([left.ready, right.ready])
    await tick()
    const rightSent = right.stats.sent
    const leftReceived = left.stats.received
    left.notify('log', 1, 'two', { three: 3 })
    expect(left.stats.pending).to.equal(0)
    expect(await ran.promise).to.deep.equal([1, 'two', { three: 3 }])
    await ticks(3)
    expect(right.stats.sent).to.equal(rightSent)
    expect(left.stats.received).to.equal(leftReceived)
  })

  it('emit error on the receiver, and never a reply, when the handler throws or rejects', async () => {
    const syncError = new Error('sync failure')
    const asyncError = new Error('async failure')
    const { left, right } = pair({}, {
      expose: {
        sync: () => {
          throw syncError
        },
        async: async () => {
          await null
          throw asyncError
        },
      },
    })
    await Promise.all([left.ready, right.ready])
    await tick()
    const errors = collect(right, 'error', 2)
    const rightSent = right.stats.sent
    const leftReceived = left.stats.received
    left.notify('sync')
    left.notify('async')
    expect((await errors).map(([error]) => error)).to.deep.equal([syncError, asyncError])
    await ticks(3)
    expect(right.stats.sent).to.equal(rightSent)
    expect(left.stats.received).to.equal(leftReceived)
    expect(right.stats.active).to.equal(0)
  })

  it('emit MethodNotFoundError on the receiver for an unknown path, and never a reply', async () => {
    const { left, right } = pair()
    await Promise.all([left.ready, right.ready])
    await tick()
    const errors = collect(right, 'error', 1)
    const rightSent = right.stats.sent
    left.notify('no.such.path', 1)
    const [[error]] = (await errors) as [[any]]
    expect(error).to.be.instanceOf(MethodNotFoundError)
    expect(error.code).to.equal('RPC_METHOD_NOT_FOUND')
    expect(error.message).to.contain('no.such.path')
    await ticks(2)
    expect(right.stats.sent).to.equal(rightSent)
  })

  it('refuse reserved paths like calls do', async () => {
    const { left, right } = pair({}, { expose: { fn: () => 1 } })
    const errors = collect(right, 'error', 3)
    left.notify('__proto__')
    left.notify('fn.constructor')
    left.notify('a..b')
    for (const [error] of await errors) expect(error).to.be.instanceOf(MethodNotFoundError)
  })
})

describe('unsendable notifications and events', () => {
  it('throws RpcError RPC_UNSENDABLE from notify and emit when an argument cannot be cloned, and stays open', async () => {
    const { left, right } = pair({}, { expose: { log: () => {} } })
    await left.ready
    expect(() => left.notify('log', new WeakMap())).to.throw(RpcError).with.property('code', ErrorCode.Unsendable)
    expect(() => left.emit('tick', Symbol('s'))).to.throw(RpcError).with.property('code', ErrorCode.Unsendable)
    expect(left.state).to.equal('open')
    const got = collect(right, 'tick', 1)
    left.emit('tick', 1)
    expect(await got).to.deep.equal([[1]])
  })
})
