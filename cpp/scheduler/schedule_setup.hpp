// Validated inputs common to both searches.
#pragma once
#include "scheduler/scheduler.hpp"

namespace curricula {

void validateScheduleOptions(const CorpusView& corpus, const SequenceCounts& counts, const ScheduleOptions& opt);

struct ScheduleSetup {
  SequenceCounts counts;
  Targets targets;
  uint64_t resumedTokens = 0;
  uint64_t tokenGoal = 0;
  ScheduleSetup(const CorpusView& corpus, const ScheduleOptions& opt);
};

}  // namespace curricula
