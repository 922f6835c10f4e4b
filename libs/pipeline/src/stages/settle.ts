import { failUnfinishedRenditions, failUnfinishedStages } from '@renditions/db';
import { defineStage } from './definition';

/**
 * The flow's root: it runs once every other stage has completed or failed for good, so whatever is still
 * unfinished can no longer finish: it is failed, and the image settles (ready, failed or rejected), announced
 * once. This is what keeps an image from staying `processing`.
 */
export const settleStage = defineStage({
  name: 'settle',
  attempts: 10,
  after: [],
  failsImage: false,
  async run({ asset, commit }) {
    await commit({
      record: async (tx) => {
        await failUnfinishedRenditions(tx, asset.id);
        await failUnfinishedStages(tx, asset.id, 'settle');
      },
      settles: true,
      completes: true,
    });
    return { outcome: 'done' };
  },
});
