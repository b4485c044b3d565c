/** workerpool worker script: registers the bench's echo method. */
import workerpool from 'workerpool'

workerpool.worker({ echo: (value: unknown) => value })
