import { listLiveImagesOfAsset, listRenditions, lockLiveAsset, setStageStatus, storeAssetStatus, type Asset, type Executor, type Image } from '@renditions/db';
import { SETTLED_EVENT_TYPE, type ImageEventType } from '@renditions/events';
import { loadAssetView } from './images';
import { deliverAnnouncement, NOTHING_TO_ANNOUNCE, recordAnnouncement } from './notify';
import { purgeStandIns, replacedStandIns } from './purge-stand-ins';
import type { Services } from './services';
import { deriveAssetStatus } from './status';

export interface AssetChange {
  /** Runs under the asset's lock; returning false records nothing and refuses the change. */
  record?: (tx: Executor, asset: Asset) => Promise<void | boolean>;
  /** Events in order; a type may repeat (one image.rendition.ready per rendition a change makes ready). */
  announce?: readonly ImageEventType[];
  /** The stage this change finishes: `ready` in the same transaction. */
  completesStage?: string;
  /** The flow is over: the derived status is stored as final. */
  settles?: boolean;
}

/**
 * The one way a status changes: under a lock on the live asset (so a delete or a takedown cannot interleave),
 * record the change, store the derived status when the image has settled (or settles now, or was rejected), and
 * record its announcement in the outbox; deliver it after the commit. The stored status therefore never
 * disagrees with the derived one, also when a failed job is retried by hand after the image settled. What the
 * change made ready is then purged from the CDN, whose brief copies of the stand-ins would otherwise linger.
 * Returns false when the asset is gone, being deleted or rejected, or `record` refused: nothing changed.
 */
export async function commitAssetChange(services: Services, assetId: string, change: AssetChange): Promise<boolean> {
  const committed = await services.db.transaction(async (tx) => {
    const asset = await lockLiveAsset(tx, assetId);
    if (!asset || asset.moderationVerdict === 'reject') return undefined;
    // What the CDN routes answered from before, to tell which answers this change makes final (with a CDN only).
    const renditionsBefore = change.record && services.cdn.active ? await listRenditions(tx, assetId) : undefined;
    if (change.record && (await change.record(tx, asset)) === false) return undefined;
    if (change.completesStage) await setStageStatus(tx, assetId, change.completesStage, 'ready');
    const types = [...(change.announce ?? [])];
    const view = await loadAssetView(tx, assetId);
    if (!view) return undefined;
    const status = deriveAssetStatus(view.asset, view.stages, view.renditions);
    const final = change.settles || asset.settledAt !== null || status === 'rejected';
    if (final && status !== 'processing' && (await storeAssetStatus(tx, assetId, status, true))) {
      // A live stream ends at the settling event, so image.updated comes first.
      if (!types.includes('image.updated')) types.push('image.updated');
      types.push(SETTLED_EVENT_TYPE[status]);
    }
    // The asset's live uploads: read once, by whichever of the purge list and the announcement needs them first.
    let images: Promise<Image[]> | undefined;
    const liveImages = () => (images ??= listLiveImagesOfAsset(tx, assetId));
    const standIns = renditionsBefore
      ? await replacedStandIns(liveImages, services.config.publicBaseUrl, { asset, renditions: renditionsBefore }, view)
      : [];
    // The view read above is what the events present: storing the status changes no field they carry.
    const announcement = types.length > 0 ? await recordAnnouncement(tx, services, await liveImages(), view, types) : NOTHING_TO_ANNOUNCE;
    return { announcement, standIns };
  });
  if (!committed) return false;
  await deliverAnnouncement(services, committed.announcement);
  purgeStandIns(services, committed.standIns);
  return true;
}
