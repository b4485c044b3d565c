import { expect } from 'chai'
import { type Call, callContext, MethodNotFoundError, createMemoryPair, createPeer } from '../lib/index.js'
import { pair, rejection, track } from './helpers.js'

const leftApi = {
  math: { vector: { norm: (v: number[]) => Math.hypot(...v) } },
  a: { b: { c: { d: { e: (x: number) => x * 2 } } } },
}
const rightApi = {
  greet: (name: string) => `hello ${name}`,
  async slowAdd(a: number, b: number) {
    await new Promise((resolve) => setImmediate(resolve))
    return a + b
  },
  v: { w: { x: { y: { z: (s: string) => s.toUpperCase() } } } },
}

describe('calls', () => {
  it('calls nested methods at depth 5 in both directions through the typed proxy', async () => {
    const { left, right } = pair<typeof leftApi, typeof rightApi>({ expose: leftApi }, { expose: rightApi })
    const doubled: number = await right.remote.a.b.c.d.e(21)
    const shouted: string = await left.remote.v.w.x.y.z('abc')
    expect(doubled).to.equal(42)
    expect(shouted).to.equal('ABC')
    expect(await right.remote.math.vector.norm([3, 4])).to.equal(5)
    expect(await left.remote.slowAdd(2, 3)).to.equal(5)
  })

  it('settles 10,000 concurrent calls, each with its own result', async () => {
    const { left } = pair({}, { expose: rightApi })
    const calls = Array.from({ length: 10_000 }, (_, i) => left.remote.slowAdd(i, i))
    const results = await Promise.all(calls)
    expect(results.every((value, i) => value === 2 * i)).to.equal(true)
    expect(left.stats.pending).to.equal(0)
  })

  it('calls by string path with peer.call, which returns a call handle', async () => {
    const { left } = pair({}, { expose: rightApi })
    const call: Call<string> = left.call<string>('greet', ['ada'])
    expect(call.id).to.be.a('number')
    expect(call.state).to.equal('pending')
    expect(await call).to.equal('hello ada')
    expect(call.state).to.equal('fulfilled')
  })

  it('gives ids unique per peer, from a counter', async () => {
    const { left } = pair({}, { expose: rightApi })
    const a = left.call('greet', ['x'])
    const b = left.call('greet', ['y'])
    expect(b.id).to.equal(a.id + 1)
    await Promise.all([a, b])
  })

  it('delivers the result to a node-style callback', async () => {
    const { left } = pair({}, { expose: rightApi })
    const result = await new Promise((resolve, reject) => {
      left.call('greet', ['bob'], { callback: (error, value) => (error ? reject(error) : resolve(value)) })
    })
    expect(result).to.equal('hello bob')
    const error = await new Promise((resolve) => {
      left.call('missing', [], { callback: (err) => resolve(err) })
    })
    expect(error).to.be.instanceOf(MethodNotFoundError)
  })

  it('rejects a path nobody handles with MethodNotFoundError naming the path', async () => {
    const { left } = pair({}, { expose: rightApi })
    const error = await rejection(left.remote.no.such.method())
    expect(error).to.be.instanceOf(MethodNotFoundError)
    expect(error.code).to.equal('RPC_METHOD_NOT_FOUND')
    expect(error.path).to.equal('no.such.method')
    expect(error.message).to.contain('no.such.method')
  })

  it('lets a handler read its context without it being mixed into the arguments', async () => {
    const seen: unknown[] = []
    const { left } = pair({}, {
      expose: {
        ctx: async (...args: unknown[]) => {
          const { id, path, signal } = callContext()
          await null
          seen.push({ args, id, path, aborted: signal.aborted })
        },
      },
    })
    const call = left.call('ctx', [1, 2])
    await call
    expect(seen).to.deep.equal([{ args: [1, 2], id: call.id, path: 'ctx', aborted: false }])
  })

  it('throws a clear error when callContext() is used outside a handler', () => {
    expect(() => callContext()).to.throw(/inside a treerpc handler/)
  })

  it('calls class instance methods with the instance as this', async () => {
    class Counter {
      #count = 0
      increment(by = 1) {
        this.#count += by
        return this.#count
      }
    }
    const { left } = pair({}, { expose: { counter: new Counter() } })
    await left.remote.counter.increment()
    expect(await left.remote.counter.increment(2)).to.equal(3)
  })

  it('passes a by-name params object from a plain JSON-RPC peer as one argument', async () => {
    const [a, b] = createMemoryPair()
    track(createPeer(b, { expose: { echo: (x: unknown) => x } }))
    const replies: unknown[] = []
    a.onMessage((message) => replies.push(message))
    a.onClose(() => {})
    a.send({ jsonrpc: '2.0', id: 'x1', method: 'echo', params: { named: true } })
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(replies).to.deep.include({ jsonrpc: '2.0', id: 'x1', result: { named: true } })
    a.close()
  })
})
