// The bottom of the page, loaded lazily as one chunk (App's <Later>): how to add prawn to a
// site, and how it works.

import { HowItWorks } from './HowItWorks';
import Snippets from './Snippets';

/** "Add prawn to your site" and "How it works". */
export default function Guide() {
  return (
    <>
      <Snippets />
      <HowItWorks />
    </>
  );
}
