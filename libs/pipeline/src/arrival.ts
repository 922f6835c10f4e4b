import { JpegSkeletonScanner } from '@renditions/imaging';
import type { ReceivedFile } from './upload';

/** What an upload's bytes tell validation while they are spooled: fed every chunk in order, asked once at the end. */
export interface ArrivalInspection {
  push(chunk: Uint8Array): void;
  /** What to add to the ReceivedFile, so that validating it reads no more of the file. */
  findings(): Pick<ReceivedFile, 'jpegSkeleton'>;
}

/** Starts looking at an upload as it arrives (today: a JPEG's skeleton, see JpegSkeletonScanner). */
export function inspectArrival(): ArrivalInspection {
  const jpeg = new JpegSkeletonScanner();
  return {
    push(chunk) {
      if (!jpeg.settled) jpeg.push(chunk);
    },
    findings() {
      const jpegSkeleton = jpeg.skeleton();
      return jpegSkeleton ? { jpegSkeleton } : {};
    },
  };
}
