/**
 * One corpus of values sent over every kind of channel, checked against the documented contract
 * (README, "What survives a channel"): structured-clone channels keep them as they are; JSON channels
 * give what JSON.parse(JSON.stringify(value)) gives, and refuse BigInt with RPC_UNSENDABLE.
 */
import { expect } from 'chai'
import { PassThrough } from 'node:stream'
import { createMemoryPair, createPeer, ErrorCode, type Peer, RpcError, spawnChild, spawnWorker, StreamTransport } from '../lib/index.js'

const ECHO = new URL('./fixtures/echo.js', import.meta.url)

const corpus: Record<string, unknown> = {
  string: 'héllo 🌳 世界',
  numbers: [0, -1, 1.5, Number.MAX_SAFE_INTEGER],
  nested: { a: { b: { c: [1, { d: null }] } } },
  withUndefinedMember: { kept: 1, gone: undefined },
  date: new Date('2026-11-25T00:00:00Z'),
  map: new Map([['k', 1]]),
  set: new Set([1, 2]),
  bytes: new Uint8Array([1, 2, 3]),
  nan: Number.NaN,
}

type Channel = { name: string; clone: boolean; start: () => Promise<{ peer: Peer<any>; stop: () => Promise<unknown> }> }

const channels: Channel[] = [
  {
    name: 'memory pair',
    clone: true,
    start: async () => {
      const [a, b] = createMemoryPair()
      const other = createPeer(b, { expose: { echo: (v: unknown) => v } })
      const peer = createPeer(a)
      return { peer, stop: async () => (peer.close(), other.close()) }
    },
  },
  {
    name: 'worker thread',
    clone: true,
    start: async () => {
      const handle = spawnWorker(ECHO)
      return { peer: handle.peer, stop: () => handle.close() }
    },
  },
  {
    name: 'child process, advanced',
    clone: true,
    start: async () => {
      const handle = spawnChild(ECHO, { serialization: 'advanced' })
      return { peer: handle.peer, stop: () => handle.close() }
    },
  },
  {
    name: 'child process, json',
    clone: false,
    start: async () => {
      const handle = spawnChild(ECHO, { serialization: 'json' })
      return { peer: handle.peer, stop: () => handle.close() }
    },
  },
  {
    name: 'byte stream',
    clone: false,
    start: async () => {
      const [up, down] = [new PassThrough(), new PassThrough()]
      const other = createPeer(new StreamTransport(up, down), { expose: { echo: (v: unknown) => v } })
      const peer = createPeer(new StreamTransport(down, up))
      return { peer, stop: async () => (peer.close(), other.close()) }
    },
  },
]

describe('what survives each channel (one corpus, every channel)', () => {
  for (const channel of channels) {
    describe(channel.name, () => {
      let peer: Peer<any>
      let stop: () => Promise<unknown>
      before(async function () {
        this.timeout(20_000)
        ;({ peer, stop } = await channel.start())
        await peer.ready
      })
      after(async () => {
        await stop()
      })

      for (const [name, value] of Object.entries(corpus)) {
        it(`${channel.clone ? 'keeps' : 'JSON-converts'} ${name}`, async () => {
          const expected = channel.clone ? value : JSON.parse(JSON.stringify(value))
          const got = await peer.call('echo', [value])
          if (Number.isNaN(value) && channel.clone) expect(got).to.be.NaN
          else expect(got).to.deep.equal(expected)
        })
      }

      it(`${channel.clone ? 'keeps' : 'refuses, with RPC_UNSENDABLE,'} a BigInt`, async () => {
        if (channel.clone) {
          expect(await peer.call('echo', [10n])).to.equal(10n)
        } else {
          const error = await peer.call('echo', [10n]).then(() => undefined, (e: unknown) => e)
          expect(error).to.be.instanceOf(RpcError)
          expect((error as RpcError).code).to.equal(ErrorCode.Unsendable)
        }
      })

      it(`returns ${channel.clone ? 'undefined' : 'null'} for an undefined result`, async () => {
        expect(await peer.call('echo', [undefined])).to.equal(channel.clone ? undefined : null)
      })
    })
  }
})
