/**
 * One corpus of values sent over every kind of channel, as arguments, as results and as event
 * arguments: each arrives as itself (README, "What crosses a channel"), on structured-clone channels
 * and JSON channels alike. What no channel can carry fails at once with RPC_UNSENDABLE naming where
 * it sits, and the channel goes on.
 */
import { expect } from 'chai'
import { PassThrough } from 'node:stream'
import { createMemoryPair, createPeer, ErrorCode, type NonBlockingPeer, RpcError, spawnChild, spawnWorker, StreamTransport } from '../lib/index.js'
import { rejection } from './helpers.js'

const ECHO = new URL('./fixtures/echo.js', import.meta.url)

class Point {
  constructor(public x: number, public y: number) {}
  norm(): number {
    return Math.hypot(this.x, this.y)
  }
}

/** name -> [value, check(received)] */
const corpus: Record<string, [unknown, (got: any, sent: any) => void]> = {}
const same = (got: unknown, sent: unknown) => expect(got).to.deep.equal(sent)
function add(name: string, value: unknown, check: (got: any, sent: any) => void = same): void {
  corpus[name] = [value, check]
}

add('a string', 'héllo 🌳 世界')
add('numbers', [0, -1, 1.5, Number.MAX_SAFE_INTEGER])
add('NaN, Infinity, -Infinity and -0', [Number.NaN, Infinity, -Infinity, -0], (got) => {
  expect(got[0]).to.be.NaN
  expect(got.slice(1, 3)).to.deep.equal([Infinity, -Infinity])
  expect(Object.is(got[3], -0)).to.equal(true)
})
add('nested plain data', { a: { b: { c: [1, { d: null }] } }, t: true })
add('an undefined member (kept, as structured clone keeps it)', { kept: 1, gone: undefined }, (got) => {
  expect(got).to.have.own.property('gone')
  expect(got).to.deep.equal({ kept: 1, gone: undefined })
})
add('undefined in an array', [1, undefined, 3])
add('undefined alone', undefined)
add('a Date', new Date('2026-11-25T00:00:00Z'), (got, sent) => {
  expect(got).to.be.instanceOf(Date)
  expect(got.getTime()).to.equal(sent.getTime())
})
add('an invalid Date', new Date(Number.NaN), (got) => {
  expect(got).to.be.instanceOf(Date)
  expect(got.getTime()).to.be.NaN
})
add('a Map with object keys', new Map<unknown, unknown>([['k', 1], [{ id: 2 }, [3]]]), (got) => {
  expect(got).to.be.instanceOf(Map)
  expect([...got.entries()]).to.deep.equal([['k', 1], [{ id: 2 }, [3]]])
})
add('a Set', new Set([1, 'two', { three: 3 }]), (got) => {
  expect(got).to.be.instanceOf(Set)
  expect([...got]).to.deep.equal([1, 'two', { three: 3 }])
})
add('a BigInt', 2n ** 70n)
add('a Uint8Array', new Uint8Array([1, 2, 3, 255]), (got) => {
  expect(got).to.be.instanceOf(Uint8Array)
  expect([...got]).to.deep.equal([1, 2, 3, 255])
})
add('a Float64Array', new Float64Array([1.5, -0.25, Number.NaN]), (got) => {
  expect(got).to.be.instanceOf(Float64Array)
  expect(got[0]).to.equal(1.5)
  expect(got[2]).to.be.NaN
})
add('an ArrayBuffer', new Uint8Array([9, 8, 7]).buffer, (got) => {
  expect(got).to.be.instanceOf(ArrayBuffer)
  expect([...new Uint8Array(got)]).to.deep.equal([9, 8, 7])
})
add('a DataView', new DataView(new Uint8Array([1, 2]).buffer), (got) => {
  expect(got).to.be.instanceOf(DataView)
  expect(got.getUint8(1)).to.equal(2)
})
add('a RegExp', /a+b/gi, (got) => {
  expect(got).to.be.instanceOf(RegExp)
  expect([got.source, got.flags]).to.deep.equal(['a+b', 'gi'])
})
add('a URL', new URL('https://example.com/a?b=1#c'), (got) => {
  expect(got).to.be.instanceOf(URL)
  expect(got.href).to.equal('https://example.com/a?b=1#c')
})
add('an Error value with code, cause and custom fields', Object.assign(new RangeError('bad', { cause: new Error('root') }), { code: 'E_BAD', when: new Date(1234), n: 2n }), (got) => {
  expect(got).to.be.instanceOf(RangeError)
  expect(got.message).to.equal('bad')
  expect(got.code).to.equal('E_BAD')
  expect(got.when).to.be.instanceOf(Date)
  expect(got.when.getTime()).to.equal(1234)
  expect(got.n).to.equal(2n)
  expect(got.cause).to.be.instanceOf(Error)
  expect(got.cause.message).to.equal('root')
  expect(got.stack).to.be.a('string').and.contain('bad')
})
add('a class instance (as its own enumerable members, as structured clone does)', new Point(3, 4), (got) => {
  expect(got).to.deep.equal({ x: 3, y: 4 })
})
add('an object with its own "$t" member (the tag name)', { $t: 'Date', v: 1 })
add('an own "__proto__" member, which stays data', JSON.parse('{"__proto__": {"polluted": true}, "a": 1}'), (got) => {
  expect(Object.getPrototypeOf(got)).to.equal(Object.prototype)
  expect(Object.hasOwn(got, '__proto__')).to.equal(true)
  expect(({} as { polluted?: unknown }).polluted).to.equal(undefined)
})
add('a null-prototype object', Object.assign(Object.create(null), { a: 1 }), (got) => expect({ ...got }).to.deep.equal({ a: 1 }))
// Plain JSON data goes as JSON on JSON channels (its speed), where a shared object arrives as equal
// copies; as soon as the value holds anything else (a Date here), identity is kept there too.
add('shared references (identity kept with a non-JSON value beside them)', (() => {
  const shared = { n: 1 }
  return { a: shared, b: shared, list: [shared], when: new Date(0) }
})(), (got) => {
  expect(got.a).to.deep.equal({ n: 1 })
  expect(got.a).to.equal(got.b)
  expect(got.list[0]).to.equal(got.a)
})
add('shared references in plain data (equal, and identical on clone channels)', (() => {
  const shared = { n: 1 }
  return { a: shared, b: shared }
})(), (got) => {
  expect(got.a).to.deep.equal({ n: 1 })
  expect(got.b).to.deep.equal({ n: 1 })
})
add('a cycle', (() => {
  const node: Record<string, unknown> = { name: 'root', children: [] }
  ;(node.children as unknown[]).push({ parent: node })
  node.self = node
  return node
})(), (got) => {
  expect(got.self).to.equal(got)
  expect(got.children[0].parent).to.equal(got)
})
add('Maps in Sets in arrays, with Dates', [new Set([new Map([['when', new Date(5)]])])], (got) => {
  const map = [...got[0]][0]
  expect(map).to.be.instanceOf(Map)
  expect(map.get('when').getTime()).to.equal(5)
})

const unsendable: Record<string, [unknown, RegExp]> = {
  'a symbol in an object member': [{ a: 1, s: Symbol('s') }, /args\[0\]\.s: a symbol cannot be sent/],
  'a symbol': [[1, Symbol('s')], /args\[0\]\[1\]: a symbol cannot be sent/],
  'a WeakMap': [{ cache: new WeakMap() }, /args\[0\]\.cache: a WeakMap cannot be sent/],
  'a Promise': [Promise.resolve(1), /args\[0\]: a Promise cannot be sent/],
  'Headers': [{ headers: new Headers({ a: '1' }) }, /args\[0\]\.headers: a Headers cannot be sent/],
  'a symbol inside a Map': [new Map([['k', { s: Symbol('s') }]]), /args\[0\]<Map value>\.s: a symbol cannot be sent/],
}

type Started = { peer: NonBlockingPeer<any>; stop: () => Promise<unknown> }
type Channel = { name: string; start: () => Promise<Started> }

function local(make: () => [any, any]): () => Promise<Started> {
  return async () => {
    const [a, b] = make()
    const other = createPeer(b, { expose: { echo: (v: unknown) => v } })
    other.on('ping', (...args: unknown[]) => other.emit('pong', ...args))
    const peer = createPeer(a)
    return { peer, stop: async () => (peer.close(), other.close()) }
  }
}

const channels: Channel[] = [
  { name: 'memory pair (structured clone)', start: local(createMemoryPair) },
  { name: 'byte stream (JSON)', start: local(() => {
    const [up, down] = [new PassThrough(), new PassThrough()]
    return [new StreamTransport(down, up), new StreamTransport(up, down)]
  }) },
  { name: 'worker thread (structured clone)', start: async () => {
    const handle = spawnWorker(ECHO)
    return { peer: handle.peer, stop: () => handle.close() }
  } },
  { name: 'child process, advanced (structured clone)', start: async () => {
    const handle = spawnChild(ECHO, { serialization: 'advanced' })
    return { peer: handle.peer, stop: () => handle.close() }
  } },
  { name: 'child process, json (JSON)', start: async () => {
    const handle = spawnChild(ECHO, { serialization: 'json' })
    return { peer: handle.peer, stop: () => handle.close() }
  } },
]

describe('what crosses each channel (one corpus, every channel)', () => {
  for (const channel of channels) {
    describe(channel.name, () => {
      let peer: NonBlockingPeer<any>
      let stop: () => Promise<unknown>
      before(async function () {
        this.timeout(20_000)
        ;({ peer, stop } = await channel.start())
        await peer.ready
      })
      after(async () => {
        await stop()
      })

      for (const [name, [value, check]] of Object.entries(corpus)) {
        it(`carries ${name} there and back as itself`, async () => {
          check(await peer.call('echo', [value]), value)
        })
      }

      it('carries the whole corpus as event arguments, both ways', async () => {
        const values = Object.values(corpus).map(([value]) => value)
        const got = new Promise<unknown[]>((resolve) => peer.once('pong', (...args: unknown[]) => resolve(args)))
        peer.emit('ping', ...values)
        const args = await got
        Object.values(corpus).forEach(([value, check], i) => check(args[i], value))
      })

      for (const [name, [value, pattern]] of Object.entries(unsendable)) {
        it(`refuses ${name} at once with RPC_UNSENDABLE naming where it sits; the channel goes on`, async () => {
          const error = await rejection(peer.call('echo', [value]))
          expect(error).to.be.instanceOf(RpcError)
          expect(error.code).to.equal(ErrorCode.Unsendable)
          expect(error.message).to.match(pattern)
          expect(error.message).to.contain('"echo"')
          expect(peer.stats.pending).to.equal(0)
          expect(await peer.call('echo', ['after'])).to.equal('after')
        })
      }
    })
  }
})
