//===- MixtureFile.cpp - a Gaussian mixture from JSON ---------------------===//
//
// Reads {"dim", "weights", "means", "stds", "classes"} from a file: either
// that object itself or any object with it under "mixture" (a golden case).
//
//===----------------------------------------------------------------------===//
#include "diffuse/models.h"

#include <nlohmann/json.hpp>

#include <fstream>

namespace diffuse::rt {

bool loadMixture(const std::string &path, Mixture &out, std::string &err) {
  std::ifstream in(path);
  if (!in) {
    err = "cannot open " + path;
    return false;
  }
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    if (j.contains("mixture"))
      j = j["mixture"];
    Mixture m;
    m.weights = j.at("weights").get<std::vector<double>>();
    for (const auto &mu : j.at("means"))
      m.means.push_back(mu.get<std::vector<double>>());
    for (const auto &s : j.at("stds"))
      m.stds.push_back(s.is_array() ? s.at(0).get<double>() : s.get<double>());
    m.dim = j.contains("dim") ? j["dim"].get<int>() : (int)m.means.at(0).size();
    if (j.contains("classes"))
      m.classes = j["classes"].get<std::vector<int>>();
    else
      m.classes.assign(m.weights.size(), 0);
    size_t K = m.weights.size();
    if (K == 0 || K > 64 || m.means.size() != K || m.stds.size() != K || m.classes.size() != K) {
      err = path + ": weights, means, stds and classes must have one entry per component (1..64)";
      return false;
    }
    for (const auto &mu : m.means)
      if ((int)mu.size() != m.dim) {
        err = path + ": every mean must have dim = " + std::to_string(m.dim) + " entries";
        return false;
      }
    out = std::move(m);
    return true;
  } catch (const std::exception &e) {
    err = path + ": not a mixture (" + e.what() + ")";
    return false;
  }
}

} // namespace diffuse::rt
