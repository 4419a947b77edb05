// SPDX-License-Identifier: Apache-2.0
//
// The golden model behind the Fabric interface. It works on the platform's DRAM array directly and
// estimates its own cycles, so the DRAM model's timing is not involved; the platform only keeps
// the same clock discipline (one cycle per CSR access).

#include <new>

#include "../model/sparrow_model.h"
#include "fabric.h"

namespace sparrow_sim {
namespace {

class ModelFabric final : public Fabric {
 public:
  explicit ModelFabric(sparrow_model_t *model) : model_(model) {}
  ~ModelFabric() override { sparrow_model_destroy(model_); }
  ModelFabric(const ModelFabric &) = delete;
  ModelFabric &operator=(const ModelFabric &) = delete;

  uint32_t CsrRead(uint32_t addr) override {
    uint32_t value = sparrow_model_csr_read(model_, addr);
    Run(1);
    return value;
  }

  void CsrWrite(uint32_t addr, uint32_t value) override {
    sparrow_model_csr_write(model_, addr, value);
    Run(1);
  }

  void Run(uint64_t cycles) override {
    sparrow_model_advance(model_, cycles);
    cycle_ += cycles;
  }

  uint64_t Cycle() const override { return cycle_; }

 private:
  sparrow_model_t *model_;
  uint64_t cycle_ = 0;
};

}  // namespace

std::unique_ptr<Fabric> MakeModelFabric(const sparrow_hw_config_t &config, sparrow_dram_t *dram,
                                        uint32_t dram_bw, uint32_t dram_latency, std::string *err) {
  sparrow_model_t *model = sparrow_model_create(&config, sparrow_dram_data(dram),
                                                sparrow_dram_bytes(dram), dram_bw, dram_latency);
  if (model == nullptr) {
    *err = "cannot create the golden model (out of memory)";
    return nullptr;
  }
  std::unique_ptr<Fabric> fabric(new (std::nothrow) ModelFabric(model));
  if (fabric == nullptr) {
    sparrow_model_destroy(model);
    *err = "out of memory";
  }
  return fabric;
}

}  // namespace sparrow_sim
