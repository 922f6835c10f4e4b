import type { Config } from '@renditions/config';
import type { Asset, Executor } from '@renditions/db';
import type { ImageEventType } from '@renditions/events';
import type { CpuScheduler, RenditionBase, RenditionFormat } from '@renditions/imaging';
import type { JobOutcome } from '@renditions/queue';
import type { ImageResource } from '../image-resource';
import type { Services } from '../services';

/** A change was refused because the asset went away (deleted or rejected) while the stage ran: the job is skipped. */
export class AssetWentAway extends Error {
  override name = 'AssetWentAway';
}

/** An object a stage produced, stored before it is recorded. */
export interface StageObject {
  key: string;
  data: Buffer;
  contentType: string;
}

/** One change a stage makes to its asset: objects to store first, then what to record, then what to announce. */
export interface StageChange {
  objects?: StageObject[];
  /** Runs in a transaction that holds the asset, only while it is live and not rejected. */
  record?: (tx: Executor, asset: Asset) => Promise<void>;
  /** Events for every live upload of the asset, sent once the change is committed (a type may repeat). */
  announce?: ImageEventType[];
  /** This change finishes the stage: its status becomes `ready` in the same transaction. */
  completes?: boolean;
  /** Only for the stage that settles the image: the derived status is stored as final. */
  settles?: boolean;
}

export interface StageAttempt {
  /** 1 for the first try. */
  number: number;
  /** No retry follows a failure of this attempt. */
  last: boolean;
  /** Stable across the retries of one job, for requests that receivers dedupe (the moderation hook). */
  eventId: string;
}

/** What a stage's use case gets from the runner. */
export interface StageContext {
  services: Services;
  /** The asset as the runner found it: live, not rejected, and this stage not done yet. */
  asset: Asset;
  attempt: StageAttempt;
  /** The stored original, fetched once per process for all the asset's stages. */
  original(): Promise<Buffer>;
  /** The asset's decoded base (see RenditionBase), decoded once per process. @throws {InvalidImageError} */
  base(): Promise<RenditionBase>;
  /** The process-wide queue every decode and encode waits in for a core. */
  cpu: CpuScheduler;
  /**
   * Store, then record: the objects are written first, then `record` runs under the asset's lock. When the asset
   * was deleted or rejected meanwhile, what was stored is removed again and the stage ends as skipped.
   * @throws {AssetWentAway} in that case; a stage lets it through
   */
  commit(change: StageChange): Promise<void>;
  /** The image resource of one upload as it is now, for a request that carries it (the moderation hook). */
  resourceOf(imageId: string): Promise<ImageResource>;
}

/**
 * A stage, declared once: its queue, how often it is tried, what it runs after, and what it does. The flow,
 * the queue names, each asset's stage rows and the worker's processors all derive from the list of these.
 */
export interface StageDefinition<Name extends string = string> {
  /** Also the queue's name: public (WORKER_QUEUES, Bull Board), so never renamed. */
  name: Name;
  attempts: number | ((config: Config) => number);
  /** Stages whose jobs finish (or fail for good) before this one starts. */
  after: readonly string[];
  /**
   * Whether a final failure of this stage fails the image. A stage whose failure only leaves a feature out
   * (the hash: no near-duplicate search) does not.
   */
  failsImage: boolean;
  /** Rendition formats this stage produces: they report their own statuses, and fail with the stage. */
  renders?: readonly RenditionFormat[];
  /**
   * The work. Content that can never succeed (an undecodable image) throws InvalidImageError: the runner does
   * not retry it. Returns `skipped` with a reason when there was nothing to do.
   */
  run(context: StageContext): Promise<JobOutcome>;
}

/** Keeps the literal name, so the stage list types every queue name. */
export function defineStage<const Name extends string>(stage: StageDefinition<Name>): StageDefinition<Name> {
  return stage;
}
