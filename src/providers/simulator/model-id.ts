/** Model id under which the simulator is listed and selected. */
export const SIMULATOR_MODEL_ID = 'simulator';
